//! The OpenAPI contract: the served document equals the committed `docs/openapi.json` (so API
//! changes are reviewed), every documented operation is routed, and every one declares its
//! problem responses.

use keel_testkit::app::TestApp;
use keel_testkit::db::TestDb;
use reqwest::Method;
use serde_json::Value;
use std::path::PathBuf;

fn snapshot_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

#[tokio::test]
async fn served_document_equals_the_committed_snapshot() {
    let app = TestApp::spawn(TestDb::sqlite().await).await;
    let served = app.get("/openapi.json", None).await;
    assert_eq!(served.status, 200);
    assert_eq!(served.body["openapi"], "3.0.3");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(snapshot_path(), format!("{}\n", served.text))
            .expect("writing the snapshot");
    }
    let committed = std::fs::read_to_string(snapshot_path())
        .expect("docs/openapi.json is committed (UPDATE_SNAPSHOTS=1 writes it)");
    let committed: Value = serde_json::from_str(&committed).expect("the snapshot is JSON");
    assert!(
        committed == served.body,
        "the API changed: review it, then refresh docs/openapi.json with UPDATE_SNAPSHOTS=1 cargo nextest run -p keel-api contract"
    );
}

#[tokio::test]
async fn every_documented_operation_is_routed_and_declares_its_problems() {
    let app = TestApp::spawn(TestDb::sqlite().await).await;
    let document = app.get("/openapi.json", None).await.body;
    let paths = document["paths"].as_object().expect("paths");
    assert!(paths.len() >= 12, "every route is documented");
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("path item") {
            let responses = operation["responses"].as_object().expect("responses");
            if path.starts_with("/api/") {
                assert!(
                    responses.contains_key("500"),
                    "{method} {path} declares 500"
                );
                let takes_input =
                    operation.get("requestBody").is_some() || operation.get("parameters").is_some();
                if takes_input {
                    assert!(
                        responses.contains_key("422"),
                        "{method} {path} declares 422"
                    );
                }
                for (status, response) in responses.iter().filter(|(s, _)| s.as_str() >= "400") {
                    let schema = &response["content"]["application/problem+json"]["schema"];
                    let expected = if status == "422" {
                        "#/components/schemas/ValidationProblem"
                    } else {
                        "#/components/schemas/Problem"
                    };
                    assert_eq!(
                        schema["$ref"], expected,
                        "{method} {path} {status} shares the one problem schema"
                    );
                    let codes = response["x-error-codes"]
                        .as_array()
                        .unwrap_or_else(|| panic!("{method} {path} {status} lists its codes"));
                    assert!(
                        !codes.is_empty(),
                        "{method} {path} {status} lists its codes"
                    );
                    for code in codes {
                        assert!(
                            keel_http::ErrorCode::ALL.iter().any(|c| code == c.as_str()),
                            "{method} {path} {status}: {code} is not an ErrorCode"
                        );
                    }
                }
            }
            let concrete = path.replace("{id}", "00000000-0000-0000-0000-000000000001");
            let concrete = if concrete.contains("/sessions/") {
                concrete
            } else {
                path.replace("{id}", "1")
            };
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let res = app.send(method.clone(), &concrete, None, None).await;
            assert_ne!(
                res.error_code(),
                "not_found",
                "{method} {concrete} is routed"
            );
            assert_ne!(res.status, 405, "{method} {concrete} is routed");
        }
    }
}
