//! The security suite's HTTP-level checks that no other module already makes: tokens that are
//! correctly signed with the server's own secret but under another algorithm, issuer or
//! audience; header injection through `X-Request-Id`; bytes a lenient parser would let through;
//! and bodies built to exhaust the JSON parser.
//!
//! The rest of the suite lives beside the feature it guards and is selected by the nextest
//! `security` filter set (`.config/nextest.toml`, `docs/testing.md`): forged, alg-none and
//! wrong-type tokens and IDOR on sessions in `auth`, IDOR on posts and drafts in `posts`,
//! oversized bodies and host checks in `hardening`, malformed bodies in `errors`, expiry and
//! claim checks in keel-auth, refresh reuse in keel-domain's session properties.

use crate::assert_problem;
use keel_testkit::app::TestApp;
use keel_testkit::db::TestDb;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A user of a second server that shares this server's `SECRET_KEY` but differs in one token
/// setting. Both databases are fresh, so the stranger has the same user id as this server's
/// first user: only the differing setting can make the token fail.
async fn same_secret_other(setting: (&str, &str)) -> keel_testkit::app::TestUser {
    let other = TestApp::spawn_with(TestDb::sqlite().await, &[setting]).await;
    other.user("mallory").await
}

#[tokio::test]
async fn tokens_under_another_algorithm_issuer_or_audience_are_refused_with_the_same_secret() {
    let app = TestApp::spawn(TestDb::sqlite().await).await;
    let alice = app.user("alice").await;
    for setting in [
        ("ALGORITHM", "HS512"),
        ("TOKEN_ISSUER", "someone-else"),
        ("TOKEN_AUDIENCE", "another-api"),
    ] {
        let mallory = same_secret_other(setting).await;
        assert_eq!(mallory.id, alice.id, "the same subject on both servers");
        let me = app.get("/api/v1/users/me", Some(&mallory.access)).await;
        assert_problem(&me, 401, "invalid_credentials");
        assert_eq!(me.header("www-authenticate"), Some("Bearer"), "{setting:?}");
        let refreshed = app
            .post(
                "/api/v1/auth/refresh",
                None,
                &json!({ "refresh_token": mallory.refresh }),
            )
            .await;
        assert_problem(&refreshed, 401, "invalid_refresh_token");
        let logout = app
            .post(
                "/api/v1/auth/logout",
                None,
                &json!({ "refresh_token": mallory.refresh }),
            )
            .await;
        assert_problem(&logout, 401, "invalid_refresh_token");
    }
    // The server's own token still works: the refusals above are about the tokens.
    assert_eq!(
        app.get("/api/v1/users/me", Some(&alice.access))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn bearer_schemes_other_than_bearer_and_extra_parts_are_refused() {
    let app = TestApp::spawn(TestDb::sqlite().await).await;
    let alice = app.user("alice").await;
    for header in [
        format!("Basic {}", alice.access),
        format!("Bearer {} extra", alice.access),
        format!("Bearer{}", alice.access),
        "Bearer ".to_owned(),
        format!("Bearer {}.", alice.access),
    ] {
        let res = TestApp::read(
            app.client
                .get(format!("{}/api/v1/users/me", app.base_url))
                .header("authorization", header.as_str()),
        )
        .await;
        assert_eq!(res.status, 401, "{header}: {}", res.text);
        assert_eq!(res.header("www-authenticate"), Some("Bearer"));
        assert_eq!(res.error_code(), "invalid_credentials");
    }
}

/// Sends `request` as raw bytes and returns the raw response head and body.
async fn raw(app: &TestApp, request: &[u8]) -> String {
    let addr = app.base_url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connecting");
    stream.write_all(request).await.expect("writing");
    let mut out = Vec::new();
    // `Connection: close` in every request below: the server ends the stream.
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut out),
    )
    .await
    .expect("the server answers in time")
    .expect("reading");
    String::from_utf8_lossy(&out).into_owned()
}

fn head_of(response: &str) -> &str {
    response.split("\r\n\r\n").next().unwrap_or_default()
}

#[tokio::test]
async fn crlf_in_x_request_id_cannot_inject_response_headers() {
    let app = TestApp::spawn(TestDb::sqlite().await).await;
    // A CRLF in a header value ends the line at the parser: whatever follows is a header of its
    // own in the request, never a header of the response, and the id is not reflected raw.
    let response = raw(
        &app,
        b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Request-Id: abc\r\nSet-Cookie: pwned=1\r\nConnection: close\r\n\r\n",
    )
    .await;
    let head = head_of(&response).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{response}");
    assert!(!head.contains("set-cookie"), "{response}");
    assert!(!head.contains("pwned"), "{response}");
    // A bare CR or LF inside the value is a malformed request: refused, never a 5xx or a hang.
    for injected in [
        &b"abc\rSet-Cookie: pwned=1"[..],
        &b"abc\nSet-Cookie: pwned=1"[..],
        &b"abc\0def"[..],
    ] {
        let mut request = b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Request-Id: ".to_vec();
        request.extend_from_slice(injected);
        request.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
        let response = raw(&app, &request).await;
        let head = head_of(&response).to_ascii_lowercase();
        assert!(!head.contains("pwned"), "{response}");
        assert!(
            !head.starts_with("http/1.1 5"),
            "no server error: {response}"
        );
    }
}

#[tokio::test]
async fn request_ids_that_are_not_plain_tokens_are_replaced_not_echoed() {
    let app = TestApp::spawn(TestDb::sqlite().await).await;
    for sent in [
        "x".repeat(10_000),
        "<script>alert(1)</script>".to_owned(),
        "id; rm -rf /".to_owned(),
        "%0d%0aSet-Cookie:%20pwned=1".to_owned(),
    ] {
        let res = TestApp::read(
            app.client
                .get(format!("{}/nope", app.base_url))
                .header("x-request-id", sent.as_str()),
        )
        .await;
        let echoed = res.header("x-request-id").expect("a request id");
        assert_ne!(echoed, sent);
        assert!(echoed.len() <= 128, "bounded: {echoed}");
        assert_eq!(
            res.body["trace_id"], echoed,
            "the problem names the same id"
        );
    }
    // Obsolete non-ASCII header bytes (obs-text) are not reflected either.
    let response = raw(
        &app,
        b"GET /nope HTTP/1.1\r\nHost: localhost\r\nX-Request-Id: caf\xc3\xa9\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(!response.contains("caf\u{e9}"), "{response}");
    assert!(!response.contains("caf\u{fffd}"), "{response}");
}

#[tokio::test]
async fn hostile_json_bodies_are_422_problems_not_crashes() {
    let app = TestApp::spawn(TestDb::sqlite().await).await;
    let alice = app.user("alice").await;
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_object = format!("{}1{}", "{\"title\":".repeat(20_000), "}".repeat(20_000));
    for body in [
        deep.as_str(),
        deep_object.as_str(),
        "{\"title\": \"\u{0}\", \"content\": \"x\"",
        "{\"title\": \"a\", \"title\": 1, \"content\": \"x\"}",
        "{\"title\": \"\\ud800\", \"content\": \"x\"}",
        "\u{feff}{}",
        "null",
        "1e999999",
    ] {
        let res = TestApp::read(
            app.client
                .post(format!("{}/api/v1/posts", app.base_url))
                .bearer_auth(&alice.access)
                .header("content-type", "application/json")
                .body(body.to_owned()),
        )
        .await;
        assert!(
            res.status.is_client_error(),
            "{}: {}",
            res.status,
            &body[..body.len().min(40)]
        );
        assert_eq!(res.header("content-type"), Some("application/problem+json"));
    }
    // The server is still up and serving.
    assert_eq!(app.get("/health", None).await.status, 200);
}

#[tokio::test]
async fn hidden_drafts_answer_like_missing_posts_and_profiles_show_only_public_members() {
    let app = TestApp::spawn(TestDb::sqlite().await).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    // A draft of alice's is not found for bob — the same answer as an id that never existed,
    // so ids cannot be probed for drafts.
    let draft = app.create_post(&alice, "Secret draft", false).await["id"]
        .as_i64()
        .expect("id");
    let hidden = app
        .get(&format!("/api/v1/posts/{draft}"), Some(&bob.access))
        .await;
    let absent = app.get("/api/v1/posts/999999", Some(&bob.access)).await;
    assert_problem(&hidden, 404, "post_not_found");
    assert_problem(&absent, 404, "post_not_found");
    // Voting on a hidden draft answers as for a missing post too.
    let vote = app
        .post(
            "/api/v1/vote",
            Some(&bob.access),
            &json!({ "post_id": draft, "dir": 1 }),
        )
        .await;
    assert_problem(&vote, 404, "post_not_found");
    // Another user's profile shows only the public members.
    let profile = app
        .get(&format!("/api/v1/users/{}", alice.id), Some(&bob.access))
        .await;
    assert_eq!(profile.status, 200);
    let mut keys: Vec<&String> = profile.body.as_object().expect("object").keys().collect();
    keys.sort();
    assert_eq!(keys, ["created_at", "email", "email_verified", "id"]);
}
