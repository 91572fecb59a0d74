//! The OpenAPI contract: the served document equals the committed `docs/openapi.json` (so API
//! changes are reviewed), every documented operation is routed, every one declares its problem
//! responses, and the route table of `docs/contract.md` is the one the document describes.

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

fn contract_page_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/contract.md")
}

/// The routes section of `docs/contract.md`: one row per operation of `document`.
fn routes_markdown(document: &Value) -> String {
    let mut out = String::from(
        "| operation | what | auth | limit | success | problems (status: `error_code`s) |\n\
         |---|---|---|---|---|---|\n",
    );
    let cell = |text: &str| text.replace('|', "\\|");
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let responses = operation["responses"].as_object().expect("responses");
            let success: Vec<&str> = responses
                .keys()
                .filter(|s| s.as_str() < "400")
                .map(String::as_str)
                .collect();
            let problems: Vec<String> = responses
                .iter()
                .filter(|(s, _)| s.as_str() >= "400")
                .map(|(status, response)| {
                    let codes: Vec<String> = response["x-error-codes"]
                        .as_array()
                        .map(|codes| {
                            codes
                                .iter()
                                .filter_map(Value::as_str)
                                .map(|c| format!("`{c}`"))
                                .collect()
                        })
                        .unwrap_or_default();
                    format!("{status}: {}", codes.join(", "))
                })
                .collect();
            out.push_str(&format!(
                "| `{} {}` | {} | {} | {} | {} | {} |\n",
                method.to_uppercase(),
                path,
                cell(operation["summary"].as_str().unwrap_or("")),
                if operation.get("security").is_some() {
                    "bearer"
                } else {
                    ""
                },
                operation["x-rate-limit-policy"]
                    .as_str()
                    .map(|p| format!("`{p}`"))
                    .unwrap_or_default(),
                success.join(", "),
                problems.join("; "),
            ));
        }
    }
    out
}

/// The contract page's route table is rendered from the served document, so the page cannot
/// describe a route, a status or an `error_code` the server does not have, or miss one.
#[tokio::test]
async fn the_contract_page_lists_every_operation() {
    const BEGIN: &str = "<!-- routes:begin";
    const END: &str = "<!-- routes:end -->";
    let app = TestApp::spawn(TestDb::sqlite().await).await;
    let document = app.get("/openapi.json", None).await.body;
    let rendered = routes_markdown(&document);
    let page = std::fs::read_to_string(contract_page_path()).expect("docs/contract.md exists");
    let begin = page
        .find(BEGIN)
        .expect("docs/contract.md has the routes:begin marker");
    let begin = begin + page[begin..].find('\n').expect("a line") + 1;
    let end = page
        .find(END)
        .expect("docs/contract.md has the routes:end marker");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        let updated = format!("{}{rendered}{}", &page[..begin], &page[end..]);
        std::fs::write(contract_page_path(), updated).expect("writing docs/contract.md");
        return;
    }
    assert!(
        page[begin..end] == rendered,
        "docs/contract.md's route table differs from the served document: refresh it with UPDATE_SNAPSHOTS=1 cargo nextest run -p keel-api contract"
    );
}
