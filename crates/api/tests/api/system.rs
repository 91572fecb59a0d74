//! `/health`, `/ready`, shutdown draining, and the documentation pages.

use crate::on_every_backend;
use keel_testkit::app::TestApp;
use keel_testkit::db::TestDb;

on_every_backend!(
    health_and_ready_answer,
    ready_turns_503_once_shutdown_begins
);

async fn health_and_ready_answer(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let health = app.get("/health", None).await;
    assert_eq!(health.status, 200);
    assert_eq!(health.body, serde_json::json!({ "status": "ok" }));
    assert_eq!(health.header("x-api-version"), Some("v1"));
    assert_eq!(health.header("x-api-version-defaulted"), Some("true"));
    let ready = app.get("/ready", None).await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    assert_eq!(
        ready.body,
        serde_json::json!({ "status": "ok", "checks": { "database": true, "redis": true } })
    );
}

async fn ready_turns_503_once_shutdown_begins(db: TestDb) {
    let app = TestApp::spawn(db).await;
    app.begin_shutdown();
    let ready = app.get("/ready", None).await;
    crate::assert_problem(&ready, 503, "service_not_ready");
    assert_eq!(ready.body["detail"], "Service dependencies are not ready");
    assert_eq!(ready.body["checks"]["database"], true);
    assert_eq!(app.get("/health", None).await.status, 200);
}

#[tokio::test]
async fn ready_is_503_while_the_database_is_unreachable_and_health_still_answers() {
    let db = TestDb::sqlite().await;
    // Nothing listens on port 1: the lazy pool never connects.
    let app = TestApp::spawn_with(
        db,
        &[
            ("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none"),
            ("DATABASE_MIGRATE_ON_START", "true"),
        ],
    )
    .await;
    assert_eq!(app.get("/health", None).await.status, 200);
    let ready = app.get("/ready", None).await;
    crate::assert_problem(&ready, 503, "service_not_ready");
    assert_eq!(ready.body["checks"]["database"], false);
    assert_eq!(ready.body["checks"]["redis"], true);
    // A route that needs the database answers 503, not 500, and never hangs.
    let res = app
        .post(
            "/api/v1/users",
            None,
            &serde_json::json!({ "email": "a@example.com", "password": "password1" }),
        )
        .await;
    crate::assert_problem(&res, 503, "service_unavailable");
}

#[tokio::test]
async fn docs_pages_and_their_assets_are_served_from_the_binary() {
    let app = TestApp::spawn(TestDb::sqlite().await).await;
    for (path, needle) in [
        ("/docs", "swagger-ui-bundle.js"),
        ("/redoc", "redoc.standalone.js"),
    ] {
        let page = app.get(path, None).await;
        assert_eq!(page.status, 200);
        assert!(page.text.contains(needle), "{path} references {needle}");
        assert!(
            !page.text.contains("cdn"),
            "{path} must not load from a CDN"
        );
    }
    for asset in [
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "redoc.standalone.js",
        "docs-init.js",
    ] {
        let res = app.get(&format!("/docs/assets/{asset}"), None).await;
        assert_eq!(res.status, 200, "{asset}");
        assert!(res.text.len() > 100, "{asset} is embedded");
    }
    crate::assert_problem(
        &app.get("/docs/assets/nope.js", None).await,
        404,
        "not_found",
    );
}
