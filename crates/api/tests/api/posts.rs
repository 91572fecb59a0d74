//! `/posts`: CRUD, ownership, visibility of drafts, paging and search, and the outbox rows each
//! write leaves behind.

use crate::{assert_problem, on_every_backend};
use keel_testkit::app::TestApp;
use keel_testkit::db::TestDb;
use reqwest::Method;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

on_every_backend!(
    create_get_update_delete_round_trip,
    feed_is_paged_newest_first_and_searchable,
    post_validation_errors_list_every_field,
    writes_leave_their_events_in_the_outbox,
);

/// `(topic, payload)` of every outbox row, oldest first.
pub(crate) async fn outbox(app: &TestApp) -> Vec<(String, Value)> {
    let sql = "SELECT topic, CAST(payload AS TEXT) AS payload FROM outbox_events ORDER BY id";
    let rows = app
        .db
        .connection()
        .query_all_raw(Statement::from_string(app.db.backend(), sql))
        .await
        .expect("outbox rows");
    rows.iter()
        .map(|row| {
            let topic: String = row.try_get("", "topic").expect("topic");
            let payload: String = row.try_get("", "payload").expect("payload");
            (
                topic,
                serde_json::from_str(&payload).expect("payload is JSON"),
            )
        })
        .collect()
}

async fn create_get_update_delete_round_trip(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let alice = app.user("alice").await;
    let created = app.create_post(&alice, "Hello", true).await;
    let keys: Vec<&String> = created.as_object().expect("object").keys().collect();
    assert_eq!(
        keys,
        [
            "content",
            "created_at",
            "id",
            "owner",
            "owner_id",
            "published",
            "title"
        ]
    );
    assert_eq!(created["owner_id"], alice.id);
    assert_eq!(created["owner"]["email"], "alice@example.com");
    let id = created["id"].as_i64().expect("id");

    let got = app
        .get(&format!("/api/v1/posts/{id}"), Some(&alice.access))
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["votes"], 0);
    assert_eq!(
        got.body["Post"], created,
        "a stored value serialises identically in every response"
    );

    // PUT is a full replacement: an omitted `published` becomes true.
    let body = json!({ "title": "Draft now", "content": "changed", "published": false });
    let updated = app
        .send(
            Method::PUT,
            &format!("/api/v1/posts/{id}"),
            Some(&alice.access),
            Some(&body),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(updated.body["published"], false);
    assert_eq!(updated.body["created_at"], created["created_at"]);
    let body = json!({ "title": "Again", "content": "x" });
    let updated = app
        .send(
            Method::PUT,
            &format!("/api/posts/{id}"),
            Some(&alice.access),
            Some(&body),
        )
        .await;
    assert_eq!(updated.body["published"], true);

    let deleted = app
        .send(
            Method::DELETE,
            &format!("/api/v1/posts/{id}"),
            Some(&alice.access),
            None,
        )
        .await;
    assert_eq!(deleted.status, 204);
    assert!(deleted.text.is_empty());
    let gone = app
        .get(&format!("/api/v1/posts/{id}"), Some(&alice.access))
        .await;
    assert_problem(&gone, 404, "post_not_found");
    assert_eq!(
        gone.body["detail"],
        format!("post with id: {id} was not found")
    );
    let again = app
        .send(
            Method::DELETE,
            &format!("/api/v1/posts/{id}"),
            Some(&alice.access),
            None,
        )
        .await;
    assert_problem(&again, 404, "post_not_found");
    assert_eq!(
        again.body["detail"],
        format!("post with id: {id} does not exist")
    );
    let body = json!({ "title": "t", "content": "c" });
    let put_missing = app
        .send(
            Method::PUT,
            &format!("/api/v1/posts/{id}"),
            Some(&alice.access),
            Some(&body),
        )
        .await;
    assert_problem(&put_missing, 404, "post_not_found");
}

async fn feed_is_paged_newest_first_and_searchable(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let alice = app.user("alice").await;
    for title in [
        "Rust one",
        "Go two",
        "RUST three",
        "100% rust_4",
        "python five",
    ] {
        app.create_post(&alice, title, true).await;
    }
    let titles = |res: &keel_testkit::app::TestResponse| -> Vec<String> {
        res.body
            .as_array()
            .expect("array")
            .iter()
            .map(|p| p["Post"]["title"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    let all = app.get("/api/v1/posts", Some(&alice.access)).await;
    assert_eq!(
        titles(&all),
        [
            "python five",
            "100% rust_4",
            "RUST three",
            "Go two",
            "Rust one"
        ]
    );
    let page = app
        .get("/api/v1/posts?limit=2&skip=1", Some(&alice.access))
        .await;
    assert_eq!(titles(&page), ["100% rust_4", "RUST three"]);
    let search = app
        .get("/api/v1/posts?search=rust", Some(&alice.access))
        .await;
    assert_eq!(titles(&search), ["100% rust_4", "RUST three", "Rust one"]);
    let literal = app
        .get("/api/v1/posts?search=%25%20rust_", Some(&alice.access))
        .await;
    assert_eq!(
        titles(&literal),
        ["100% rust_4"],
        "% and _ are matched literally"
    );
    assert_eq!(
        app.get("/api/posts/?limit=1", Some(&alice.access))
            .await
            .body
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    for (query, loc) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("skip=-1", "skip"),
        ("limit=abc", "limit"),
        ("search=a%00b", "search"),
    ] {
        let res = app
            .get(&format!("/api/v1/posts?{query}"), Some(&alice.access))
            .await;
        assert_problem(&res, 422, "validation_error");
        assert_eq!(
            res.body["errors"][0]["loc"],
            json!(["query", loc]),
            "{query}"
        );
    }
    assert_problem(
        &app.get("/api/v1/posts", None).await,
        401,
        "invalid_credentials",
    );
}

async fn post_validation_errors_list_every_field(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let alice = app.user("alice").await;
    let res = app
        .post(
            "/api/v1/posts",
            Some(&alice.access),
            &json!({ "title": "", "content": "x".repeat(10_001), "published": "maybe" }),
        )
        .await;
    assert_problem(&res, 422, "validation_error");
    let errors = res.body["errors"].as_array().expect("errors");
    let summary: Vec<(Value, Value)> = errors
        .iter()
        .map(|e| (e["loc"].clone(), e["type"].clone()))
        .collect();
    assert_eq!(
        summary,
        [
            (json!(["body", "title"]), json!("string_too_short")),
            (json!(["body", "content"]), json!("string_too_long")),
            (json!(["body", "published"]), json!("bool_parsing")),
        ]
    );
    assert!(errors.iter().all(|e| e["msg"].is_string()));
    let ok = app
        .post(
            "/api/v1/posts",
            Some(&alice.access),
            &json!({ "title": "t".repeat(200), "content": "c", "extra": 1 }),
        )
        .await;
    assert_eq!(
        ok.status, 201,
        "bounds are inclusive and unknown members ignored: {}",
        ok.text
    );
    assert_eq!(ok.body["published"], true);
    // No database text column holds U+0000: refused as input, never a 5xx from the store.
    let nul = app
        .post(
            "/api/v1/posts",
            Some(&alice.access),
            &json!({ "title": "a\u{0}b", "content": "\u{0}" }),
        )
        .await;
    assert_problem(&nul, 422, "validation_error");
    let types: Vec<&Value> = nul.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| &e["type"])
        .collect();
    assert_eq!(
        types,
        [
            &json!("string_pattern_mismatch"),
            &json!("string_pattern_mismatch")
        ]
    );
}

async fn writes_leave_their_events_in_the_outbox(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let id = app.create_post(&alice, "Evented", true).await["id"]
        .as_i64()
        .expect("id");
    app.post(
        "/api/v1/vote",
        Some(&bob.access),
        &json!({ "post_id": id, "dir": 1 }),
    )
    .await;
    app.post(
        "/api/v1/vote",
        Some(&bob.access),
        &json!({ "post_id": id, "dir": 0 }),
    )
    .await;
    let body = json!({ "title": "Edited", "content": "x" });
    app.send(
        Method::PUT,
        &format!("/api/v1/posts/{id}"),
        Some(&alice.access),
        Some(&body),
    )
    .await;
    app.send(
        Method::DELETE,
        &format!("/api/v1/posts/{id}"),
        Some(&alice.access),
        None,
    )
    .await;
    // Failed writes leave nothing.
    app.post(
        "/api/v1/vote",
        Some(&bob.access),
        &json!({ "post_id": id, "dir": 1 }),
    )
    .await;
    app.post(
        "/api/v1/users",
        None,
        &json!({ "email": "alice@example.com", "password": "password1" }),
    )
    .await;
    let (a, b) = (alice.id, bob.id);
    // The public events; each registration also wrote its private verification mail event.
    let (mail, public): (Vec<_>, Vec<_>) = outbox(&app)
        .await
        .into_iter()
        .partition(|(topic, _)| topic.starts_with("mail."));
    assert_eq!(
        mail.iter()
            .map(|(topic, _)| topic.as_str())
            .collect::<Vec<_>>(),
        ["mail.verify_email", "mail.verify_email"]
    );
    assert_eq!(
        public,
        [
            (
                "user.created".to_owned(),
                json!({ "user_id": a, "email": "alice@example.com" })
            ),
            (
                "user.created".to_owned(),
                json!({ "user_id": b, "email": "bob@example.com" })
            ),
            (
                "post.created".to_owned(),
                json!({ "post_id": id, "owner_id": a })
            ),
            (
                "vote.created".to_owned(),
                json!({ "post_id": id, "user_id": b })
            ),
            (
                "vote.deleted".to_owned(),
                json!({ "post_id": id, "user_id": b })
            ),
            (
                "post.updated".to_owned(),
                json!({ "post_id": id, "owner_id": a })
            ),
            (
                "post.deleted".to_owned(),
                json!({ "post_id": id, "owner_id": a })
            ),
        ]
    );
}

/// Abuse of the contract (tokens, sessions, ownership, hostile input): part of the `security` suite by living here.
mod security {
    use super::*;

    on_every_backend!(
        only_the_owner_changes_a_post,
        drafts_are_visible_to_their_owner_only,
    );

    async fn only_the_owner_changes_a_post(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let alice = app.user("alice").await;
        let bob = app.user("bob").await;
        let id = app.create_post(&alice, "Mine", true).await["id"]
            .as_i64()
            .expect("id");
        let body = json!({ "title": "Stolen", "content": "x" });
        let put = app
            .send(
                Method::PUT,
                &format!("/api/v1/posts/{id}"),
                Some(&bob.access),
                Some(&body),
            )
            .await;
        assert_problem(&put, 403, "not_post_owner");
        assert_eq!(
            put.body["detail"],
            "Not authorized to perform requested action"
        );
        let delete = app
            .send(
                Method::DELETE,
                &format!("/api/v1/posts/{id}"),
                Some(&bob.access),
                None,
            )
            .await;
        assert_problem(&delete, 403, "not_post_owner");
        // Validation comes before existence and ownership.
        let invalid = app
            .send(
                Method::PUT,
                &format!("/api/v1/posts/{id}"),
                Some(&bob.access),
                Some(&json!({ "title": "" })),
            )
            .await;
        assert_problem(&invalid, 422, "validation_error");
        let still = app
            .get(&format!("/api/v1/posts/{id}"), Some(&alice.access))
            .await;
        assert_eq!(still.body["Post"]["title"], "Mine");
    }

    async fn drafts_are_visible_to_their_owner_only(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let alice = app.user("alice").await;
        let bob = app.user("bob").await;
        let draft = app.create_post(&alice, "Secret draft", false).await["id"]
            .as_i64()
            .expect("id");
        app.create_post(&alice, "Public", true).await;
        let for_bob = app.get("/api/v1/posts", Some(&bob.access)).await;
        let titles: Vec<&str> = for_bob
            .body
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|p| p["Post"]["title"].as_str())
            .collect();
        assert_eq!(titles, ["Public"]);
        let for_alice = app.get("/api/v1/posts", Some(&alice.access)).await;
        assert_eq!(for_alice.body.as_array().map(Vec::len), Some(2));
        assert_problem(
            &app.get(&format!("/api/v1/posts/{draft}"), Some(&bob.access))
                .await,
            404,
            "post_not_found",
        );
        assert_eq!(
            app.get(&format!("/api/v1/posts/{draft}"), Some(&alice.access))
                .await
                .status,
            200
        );
        let vote = app
            .post(
                "/api/v1/vote",
                Some(&bob.access),
                &json!({ "post_id": draft, "dir": 1 }),
            )
            .await;
        assert_problem(&vote, 404, "post_not_found");
    }
}
