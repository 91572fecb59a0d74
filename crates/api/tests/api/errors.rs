//! The error contract everywhere: routing errors, malformed bodies, media types, body limits,
//! and API version routing.

use crate::assert_problem;
use keel_testkit::app::TestApp;
use keel_testkit::db::TestDb;
use reqwest::Method;

async fn app() -> TestApp {
    TestApp::spawn_with(TestDb::sqlite().await, &[("MAX_BODY_BYTES", "1024")]).await
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_are_problems() {
    let app = app().await;
    let res = app.get("/nope?x=1", None).await;
    assert_problem(&res, 404, "not_found");
    assert_eq!(res.body["detail"], "Not Found");
    assert_eq!(res.body["title"], "Not Found");
    assert_eq!(
        res.body["instance"], "/nope",
        "instance is the path without the query"
    );
    let res = app.get("/api/v1/nope", None).await;
    assert_problem(&res, 404, "not_found");
    let res = app.send(Method::PATCH, "/api/v1/posts", None, None).await;
    assert_problem(&res, 405, "method_not_allowed");
    assert_eq!(res.body["detail"], "Method Not Allowed");
    let res = app.send(Method::DELETE, "/health", None, None).await;
    assert_problem(&res, 405, "method_not_allowed");
}

#[tokio::test]
async fn version_headers_and_aliases() {
    let app = app().await;
    let alice = app.user("alice").await;
    let canonical = app.get("/api/v1/users/me", Some(&alice.access)).await;
    assert_eq!(canonical.header("x-api-version"), Some("v1"));
    assert_eq!(canonical.header("x-api-version-defaulted"), None);
    let alias = app.get("/api/users/me", Some(&alice.access)).await;
    assert_eq!(alias.status, 200);
    assert_eq!(alias.header("x-api-version-defaulted"), Some("true"));
    let request = app
        .client
        .get(format!("{}/api/users/me", app.base_url))
        .bearer_auth(&alice.access)
        .header("x-api-version", "v1");
    let selected = TestApp::read(request).await;
    assert_eq!(selected.header("x-api-version"), Some("v1"));
    assert_eq!(selected.header("x-api-version-defaulted"), None);
    let request = app
        .client
        .get(format!("{}/api/users/me", app.base_url))
        .bearer_auth(&alice.access)
        .header("x-api-version", "v9");
    let ignored = TestApp::read(request).await;
    assert_eq!(ignored.status, 200);
    assert_eq!(ignored.header("x-api-version-defaulted"), Some("true"));
    let unsupported = app.get("/api/v2/users/me", Some(&alice.access)).await;
    assert_problem(&unsupported, 404, "not_found");
    assert_eq!(unsupported.header("x-api-version"), Some("v1"));
    assert_eq!(unsupported.header("x-api-version-defaulted"), Some("true"));
    // instance keeps the alias path as sent.
    let missing = app.get("/api/posts/999", Some(&alice.access)).await;
    assert_eq!(missing.body["instance"], "/api/posts/999");
}

/// Abuse of the contract (tokens, sessions, ownership, hostile input): part of the `security` suite by living here.
mod security {
    use super::*;

    #[tokio::test]
    async fn malformed_bodies_are_422_and_wrong_media_types_415() {
        let app = app().await;
        let url = format!("{}/api/v1/users", app.base_url);
        let bad_json = TestApp::read(
            app.client
                .post(&url)
                .header("content-type", "application/json")
                .body("{\"email\":"),
        )
        .await;
        assert_problem(&bad_json, 422, "validation_error");
        assert_eq!(bad_json.body["errors"][0]["type"], "json_invalid");
        let array = TestApp::read(
            app.client
                .post(&url)
                .header("content-type", "application/json")
                .body("[]"),
        )
        .await;
        assert_problem(&array, 422, "validation_error");
        let empty = TestApp::read(app.client.post(&url)).await;
        assert_problem(&empty, 422, "validation_error");
        let text = TestApp::read(
            app.client
                .post(&url)
                .header("content-type", "text/plain")
                .body("{}"),
        )
        .await;
        assert_problem(&text, 415, "unsupported_media_type");
        let form = TestApp::read(
            app.client
                .post(format!("{}/api/v1/login", app.base_url))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("%%%"),
        )
        .await;
        assert!(form.status == 422 || form.status == 403, "{}", form.text);
        let big = TestApp::read(
            app.client
                .post(&url)
                .header("content-type", "application/json")
                .body(format!("{{\"email\":\"{}\"}}", "a".repeat(4096))),
        )
        .await;
        assert_problem(&big, 413, "payload_too_large");
    }

    /// `data` as a gzip member with one stored (uncompressed) deflate block: a body any
    /// decoder inflates back to `data`.
    fn gzip_stored(data: &[u8]) -> Vec<u8> {
        let crc = data.iter().fold(!0u32, |mut crc, byte| {
            crc ^= u32::from(*byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
            crc
        });
        let len = u16::try_from(data.len()).expect("a small body");
        let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 1];
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(data);
        out.extend_from_slice(&(!crc).to_le_bytes());
        out.extend_from_slice(&u32::from(len).to_le_bytes());
        out
    }

    #[tokio::test]
    async fn compressed_bodies_are_415_and_never_inflated() {
        let app = app().await;
        let registration = br#"{"email":"gzip@example.com","password":"password1"}"#;
        for (path, content_type, body) in [
            ("/api/v1/users", "application/json", &registration[..]),
            (
                "/api/v1/login",
                "application/x-www-form-urlencoded",
                &b"username=gzip%40example.com&password=password1"[..],
            ),
        ] {
            for encoding in ["gzip", "GZIP", "identity, gzip", "br", "zstd", "deflate"] {
                let res = TestApp::read(
                    app.client
                        .post(format!("{}{path}", app.base_url))
                        .header("content-type", content_type)
                        .header("content-encoding", encoding)
                        .body(gzip_stored(body)),
                )
                .await;
                assert_problem(&res, 415, "unsupported_media_type");
            }
        }
        // Nothing was registered: the same address, sent plainly, is new.
        let plain = TestApp::read(
            app.client
                .post(format!("{}/api/v1/users", app.base_url))
                .header("content-type", "application/json")
                .header("content-encoding", "identity")
                .body(&registration[..]),
        )
        .await;
        assert_eq!(plain.status, 201, "{}", plain.text);
    }

    #[tokio::test]
    async fn request_ids_are_honoured_or_generated() {
        let app = app().await;
        let res = TestApp::read(
            app.client
                .get(format!("{}/nope", app.base_url))
                .header("x-request-id", "abc-123"),
        )
        .await;
        assert_eq!(res.header("x-request-id"), Some("abc-123"));
        assert_eq!(res.body["trace_id"], "abc-123");
        let res = TestApp::read(
            app.client
                .get(format!("{}/nope", app.base_url))
                .header("x-request-id", "bad id with spaces"),
        )
        .await;
        let generated = res.header("x-request-id").expect("generated");
        assert_ne!(generated, "bad id with spaces");
        assert_eq!(res.body["trace_id"], generated);
    }
}
