//! `/{{plural}}`: create, read, list, replace and delete over HTTP, ownership, validation, and
//! the outbox rows each write leaves behind.

use crate::posts::outbox;
use crate::{assert_problem, on_every_backend};
use keel_testkit::app::{TestApp, TestUser};
use keel_testkit::db::TestDb;
use reqwest::Method;
use serde_json::{Value, json};

on_every_backend!(
    {{plural}}_round_trip,
    only_the_owner_changes_{{plural}},
    {{plural}}_are_listed_newest_first_and_paged,
    {{name}}_validation_errors_list_every_field,
    {{name}}_writes_leave_their_events_in_the_outbox,
);

async fn create(app: &TestApp, owner: &TestUser, name: &str) -> Value {
    let body = json!({ "name": name, "description": format!("about {name}") });
    let res = app
        .post("/api/v1/{{plural}}", Some(&owner.access), &body)
        .await;
    assert_eq!(res.status, 201, "creating {name}: {}", res.text);
    res.body
}

fn id_of(body: &Value) -> i64 {
    body["id"].as_i64().expect("an integer id")
}

async fn {{plural}}_round_trip(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let alice = app.user("alice").await;
    let created = create(&app, &alice, "First").await;
    let keys: Vec<&String> = created.as_object().expect("object").keys().collect();
    assert_eq!(
        keys,
        [
            "created_at",
            "description",
            "id",
            "name",
            "owner_id",
            "updated_at"
        ]
    );
    assert_eq!(created["owner_id"], alice.id);
    assert_eq!(created["description"], "about First");
    assert_eq!(created["created_at"], created["updated_at"]);
    let id = id_of(&created);

    let got = app
        .get(&format!("/api/v1/{{plural}}/{id}"), Some(&alice.access))
        .await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(
        got.body, created,
        "a stored value serialises identically in every response"
    );

    let body = json!({ "name": "Renamed", "description": "" });
    let updated = app
        .send(
            Method::PUT,
            &format!("/api/v1/{{plural}}/{id}"),
            Some(&alice.access),
            Some(&body),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(
        (&updated.body["name"], &updated.body["description"]),
        (&json!("Renamed"), &json!(""))
    );
    assert_eq!(updated.body["created_at"], created["created_at"]);
    let got = app
        .get(&format!("/api/v1/{{plural}}/{id}"), Some(&alice.access))
        .await;
    assert_eq!(got.body, updated.body);

    let deleted = app
        .send(
            Method::DELETE,
            &format!("/api/v1/{{plural}}/{id}"),
            Some(&alice.access),
            None,
        )
        .await;
    assert_eq!(deleted.status, 204);
    assert!(deleted.text.is_empty());
    let gone = app
        .get(&format!("/api/v1/{{plural}}/{id}"), Some(&alice.access))
        .await;
    assert_problem(&gone, 404, "{{name}}_not_found");
    assert_eq!(
        gone.body["detail"],
        format!("{{Human}} with id: {id} does not exist")
    );
    let again = app
        .send(
            Method::DELETE,
            &format!("/api/v1/{{plural}}/{id}"),
            Some(&alice.access),
            None,
        )
        .await;
    assert_problem(&again, 404, "{{name}}_not_found");
    let put_missing = app
        .send(
            Method::PUT,
            &format!("/api/v1/{{plural}}/{id}"),
            Some(&alice.access),
            Some(&body),
        )
        .await;
    assert_problem(&put_missing, 404, "{{name}}_not_found");
    let anonymous = app.get("/api/v1/{{plural}}", None).await;
    assert_problem(&anonymous, 401, "invalid_credentials");
}

async fn only_the_owner_changes_{{plural}}(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let id = id_of(&create(&app, &alice, "Mine").await);
    let seen = app
        .get(&format!("/api/v1/{{plural}}/{id}"), Some(&bob.access))
        .await;
    assert_eq!(seen.status, 200, "every user reads: {}", seen.text);
    let body = json!({ "name": "Stolen", "description": "x" });
    let put = app
        .send(
            Method::PUT,
            &format!("/api/v1/{{plural}}/{id}"),
            Some(&bob.access),
            Some(&body),
        )
        .await;
    assert_problem(&put, 403, "not_{{name}}_owner");
    let delete = app
        .send(
            Method::DELETE,
            &format!("/api/v1/{{plural}}/{id}"),
            Some(&bob.access),
            None,
        )
        .await;
    assert_problem(&delete, 403, "not_{{name}}_owner");
    let still = app
        .get(&format!("/api/v1/{{plural}}/{id}"), Some(&alice.access))
        .await;
    assert_eq!(still.body["name"], "Mine");
}

async fn {{plural}}_are_listed_newest_first_and_paged(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let mut ids = Vec::new();
    for (owner, name) in [(&alice, "one"), (&bob, "two"), (&alice, "three")] {
        ids.push(id_of(&create(&app, owner, name).await));
    }
    let all = app.get("/api/v1/{{plural}}", Some(&bob.access)).await;
    assert_eq!(all.status, 200, "{}", all.text);
    let listed: Vec<i64> = all
        .body
        .as_array()
        .expect("an array")
        .iter()
        .map(id_of)
        .collect();
    ids.reverse();
    assert_eq!(listed, ids);
    let page = app
        .get("/api/v1/{{plural}}?limit=1&skip=1", Some(&bob.access))
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(page.body.as_array().map(Vec::len), Some(1));
    assert_eq!(page.body[0]["name"], "two");
    let bad = app
        .get("/api/v1/{{plural}}?limit=0&skip=-1", Some(&bob.access))
        .await;
    assert_problem(&bad, 422, "validation_error");
    assert_eq!(bad.body["errors"].as_array().map(Vec::len), Some(2));
}

async fn {{name}}_validation_errors_list_every_field(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let alice = app.user("alice").await;
    let missing = app
        .post("/api/v1/{{plural}}", Some(&alice.access), &json!({}))
        .await;
    assert_problem(&missing, 422, "validation_error");
    let fields: Vec<&Value> = missing.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| &e["loc"][1])
        .collect();
    assert_eq!(fields, [&json!("name"), &json!("description")]);
    let bounds = app
        .post(
            "/api/v1/{{plural}}",
            Some(&alice.access),
            &json!({ "name": "", "description": "d".repeat(2_001) }),
        )
        .await;
    assert_problem(&bounds, 422, "validation_error");
    let kinds: Vec<&Value> = bounds.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| &e["type"])
        .collect();
    assert_eq!(
        kinds,
        [&json!("string_too_short"), &json!("string_too_long")]
    );
    let bad_id = app
        .get("/api/v1/{{plural}}/abc", Some(&alice.access))
        .await;
    assert_problem(&bad_id, 422, "validation_error");
    let longest = json!({ "name": "ü".repeat(200), "description": "ü".repeat(2_000) });
    let accepted = app
        .post("/api/v1/{{plural}}", Some(&alice.access), &longest)
        .await;
    assert_eq!(accepted.status, 201, "{}", accepted.text);
}

async fn {{name}}_writes_leave_their_events_in_the_outbox(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let alice = app.user("alice").await;
    let id = id_of(&create(&app, &alice, "Evented").await);
    let body = json!({ "name": "Changed", "description": "" });
    let updated = app
        .send(
            Method::PUT,
            &format!("/api/v1/{{plural}}/{id}"),
            Some(&alice.access),
            Some(&body),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    let deleted = app
        .send(
            Method::DELETE,
            &format!("/api/v1/{{plural}}/{id}"),
            Some(&alice.access),
            None,
        )
        .await;
    assert_eq!(deleted.status, 204);
    let payload = json!({ "{{name}}_id": id, "owner_id": alice.id });
    let events: Vec<(String, Value)> = outbox(&app)
        .await
        .into_iter()
        .filter(|(topic, _)| topic.starts_with("{{name}}."))
        .collect();
    assert_eq!(
        events,
        [
            ("{{name}}.created".to_owned(), payload.clone()),
            ("{{name}}.updated".to_owned(), payload.clone()),
            ("{{name}}.deleted".to_owned(), payload),
        ]
    );
}
