//! `/login` and `/auth/*`: login forms, rotation, reuse detection, grace window, logout,
//! logout-all, sessions, and token abuse.

use crate::{assert_problem, on_every_backend};
use keel_testkit::app::{TestApp, TestResponse};
use keel_testkit::db::TestDb;
use serde_json::json;

on_every_backend!(
    login_accepts_the_form_and_json,
    login_refuses_bad_credentials_alike,
    refresh_rotates_and_the_old_token_dies,
    refresh_tokens_never_outlive_the_session_max_age,
);

async fn refresh(app: &TestApp, token: &str) -> TestResponse {
    app.post(
        "/api/v1/auth/refresh",
        None,
        &json!({ "refresh_token": token }),
    )
    .await
}

async fn login_accepts_the_form_and_json(db: TestDb) {
    let app = TestApp::spawn(db).await;
    app.register("alice@example.com", "password1").await;
    let form = app.login("ALICE@example.com", "password1").await;
    assert_eq!(form["token_type"], "bearer");
    let keys: Vec<&String> = form.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["access_token", "refresh_token", "token_type"]);
    let res = app
        .post(
            "/api/v1/login",
            None,
            &json!({ "email": "alice@example.com", "password": "password1" }),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.header("cache-control"), Some("no-store"));
    assert_eq!(res.header("pragma"), Some("no-cache"));
    // JSON must use `email`; `username` is read only from forms.
    let res = app
        .post(
            "/api/v1/login",
            None,
            &json!({ "username": "alice@example.com", "password": "password1" }),
        )
        .await;
    assert_problem(&res, 422, "validation_error");
    assert_eq!(res.body["errors"][0]["loc"], json!(["body", "email"]));
    // Alias path answers the same.
    let res = app
        .post(
            "/api/login",
            None,
            &json!({ "email": "alice@example.com", "password": "password1" }),
        )
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("x-api-version-defaulted"), Some("true"));
}

async fn login_refuses_bad_credentials_alike(db: TestDb) {
    let app = TestApp::spawn(db).await;
    app.register("alice@example.com", "password1").await;
    for (email, password) in [
        ("alice@example.com", "wrong-password"),
        ("nobody@example.com", "password1"),
        ("not an email", "x"),
    ] {
        let res = app
            .post(
                "/api/v1/login",
                None,
                &json!({ "email": email, "password": password }),
            )
            .await;
        assert_problem(&res, 403, "invalid_credentials");
        assert_eq!(res.body["detail"], "Invalid Credentials");
    }
}

async fn refresh_rotates_and_the_old_token_dies(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let alice = app.user("alice").await;
    let rotated = refresh(&app, &alice.refresh).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    assert_eq!(rotated.header("cache-control"), Some("no-store"));
    let new_refresh = rotated.body["refresh_token"].as_str().expect("token");
    assert_ne!(new_refresh, alice.refresh);
    let new_access = rotated.body["access_token"].as_str().expect("token");
    assert_eq!(
        app.get("/api/v1/users/me", Some(new_access)).await.status,
        200
    );
    // The next rotation works from the new token.
    assert_eq!(refresh(&app, new_refresh).await.status, 200);
}

/// The claims of a JWT, read without verifying it (base64url, no padding).
fn claims_of(token: &str) -> serde_json::Value {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let payload = token.split('.').nth(1).expect("a JWT");
    let mut bytes = Vec::new();
    let (mut buffer, mut bits) = (0_u32, 0);
    for c in payload.bytes() {
        let value = ALPHABET.iter().position(|a| *a == c).expect("base64url");
        buffer = (buffer << 6) | u32::try_from(value).expect("6 bits");
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            bytes.push(u8::try_from((buffer >> bits) & 0xff).expect("a byte"));
        }
    }
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// `SESSION_MAX_AGE_DAYS` below `REFRESH_TOKEN_EXPIRE_DAYS`: the refresh tokens of a login and
/// of its refreshes expire at the session's absolute end, not a refresh lifetime later.
async fn refresh_tokens_never_outlive_the_session_max_age(db: TestDb) {
    let app = TestApp::spawn_with(
        db,
        &[
            ("SESSION_MAX_AGE_DAYS", "1"),
            ("REFRESH_TOKEN_EXPIRE_DAYS", "30"),
        ],
    )
    .await;
    let alice = app.user("alice").await;
    let login = claims_of(&alice.refresh);
    let iat = login["iat"].as_i64().expect("iat");
    let end = login["exp"].as_i64().expect("exp");
    assert!(
        (86_400 - 60..=86_400).contains(&(end - iat)),
        "the first token ends a day after the login: {login}"
    );
    let rotated = refresh(&app, &alice.refresh).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    let next = claims_of(rotated.body["refresh_token"].as_str().expect("token"));
    assert_eq!(
        next["exp"].as_i64(),
        Some(end),
        "a refresh does not extend it"
    );
}

/// Abuse of the contract (tokens, sessions, ownership, hostile input): part of the `security` suite by living here.
mod security {
    use super::*;

    on_every_backend!(
        access_tokens_end_with_their_session,
        replay_inside_the_grace_window_keeps_the_family,
        replay_outside_the_grace_window_revokes_the_family,
        concurrent_refreshes_of_one_token_never_both_succeed,
        logout_revokes_the_family_and_is_idempotent,
        logout_all_revokes_every_session,
        sessions_are_listed_and_revocable_by_their_owner_only,
        forged_expired_and_wrong_type_tokens_are_refused,
        a_token_of_a_deleted_user_is_refused,
    );

    async fn replay_inside_the_grace_window_keeps_the_family(db: TestDb) {
        let app = TestApp::spawn(db).await; // grace: 10 s
        let alice = app.user("alice").await;
        let rotated = refresh(&app, &alice.refresh).await;
        let current = rotated.body["refresh_token"]
            .as_str()
            .expect("token")
            .to_owned();
        let replay = refresh(&app, &alice.refresh).await;
        assert_problem(&replay, 401, "invalid_refresh_token");
        assert_eq!(replay.body["detail"], "Could not validate refresh token");
        assert_eq!(replay.header("www-authenticate"), Some("Bearer"));
        // A lost response or a second tab: the family survives.
        assert_eq!(refresh(&app, &current).await.status, 200);
    }

    async fn replay_outside_the_grace_window_revokes_the_family(db: TestDb) {
        let app = TestApp::spawn_with(db, &[("REFRESH_TOKEN_REUSE_GRACE_SECONDS", "0")]).await;
        let alice = app.user("alice").await;
        let rotated = refresh(&app, &alice.refresh).await;
        let current = rotated.body["refresh_token"]
            .as_str()
            .expect("token")
            .to_owned();
        assert_problem(
            &refresh(&app, &alice.refresh).await,
            401,
            "invalid_refresh_token",
        );
        // Reuse: the thief's and the victim's newest tokens both stop working.
        assert_problem(&refresh(&app, &current).await, 401, "invalid_refresh_token");
        // Other sessions of the same user are untouched.
        let other = app.login(&alice.email, &alice.password).await;
        assert_eq!(
            refresh(&app, other["refresh_token"].as_str().expect("token"))
                .await
                .status,
            200
        );
    }

    async fn concurrent_refreshes_of_one_token_never_both_succeed(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let alice = app.user("alice").await;
        for _ in 0..3 {
            let fresh = app.login(&alice.email, &alice.password).await;
            let token = fresh["refresh_token"].as_str().expect("token").to_owned();
            let (a, b) = tokio::join!(refresh(&app, &token), refresh(&app, &token));
            let ok = [a.status.as_u16(), b.status.as_u16()]
                .iter()
                .filter(|s| **s == 200)
                .count();
            assert_eq!(
                ok, 1,
                "exactly one of two concurrent refreshes succeeds: {} / {}",
                a.text, b.text
            );
            for res in [a, b] {
                if res.status != 200 {
                    assert_problem(&res, 401, "invalid_refresh_token");
                }
            }
        }
    }

    async fn logout_revokes_the_family_and_is_idempotent(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let alice = app.user("alice").await;
        let res = app
            .post(
                "/api/v1/auth/logout",
                None,
                &json!({ "refresh_token": alice.refresh }),
            )
            .await;
        assert_eq!(res.status, 204, "{}", res.text);
        assert_problem(
            &refresh(&app, &alice.refresh).await,
            401,
            "invalid_refresh_token",
        );
        let again = app
            .post(
                "/api/v1/auth/logout",
                None,
                &json!({ "refresh_token": alice.refresh }),
            )
            .await;
        assert_eq!(again.status, 204);
        for bad in [
            json!({ "refresh_token": "garbage" }),
            json!({ "refresh_token": alice.access }),
        ] {
            assert_problem(
                &app.post("/api/v1/auth/logout", None, &bad).await,
                401,
                "invalid_refresh_token",
            );
        }
        assert_problem(
            &app.post("/api/v1/auth/logout", None, &json!({})).await,
            422,
            "validation_error",
        );
    }

    async fn logout_all_revokes_every_session(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let alice = app.user("alice").await;
        let second = app.login(&alice.email, &alice.password).await;
        let bob = app.user("bob").await;
        let res = app
            .post("/api/v1/auth/logout-all", Some(&alice.access), &json!({}))
            .await;
        assert_eq!(res.status, 204, "{}", res.text);
        assert_problem(
            &refresh(&app, &alice.refresh).await,
            401,
            "invalid_refresh_token",
        );
        assert_problem(
            &refresh(&app, second["refresh_token"].as_str().expect("token")).await,
            401,
            "invalid_refresh_token",
        );
        assert_eq!(
            refresh(&app, &bob.refresh).await.status,
            200,
            "other users keep their sessions"
        );
        assert_problem(
            &app.post("/api/v1/auth/logout-all", None, &json!({})).await,
            401,
            "invalid_credentials",
        );
    }

    async fn sessions_are_listed_and_revocable_by_their_owner_only(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let alice = app.user("alice").await;
        let request = app
            .client
            .post(format!("{}/api/v1/login", app.base_url))
            .header("user-agent", "second-browser/1.0")
            .form(&[
                ("username", alice.email.as_str()),
                ("password", alice.password.as_str()),
            ]);
        let second = TestApp::read(request).await;
        assert_eq!(second.status, 200);
        let list = app.get("/api/v1/auth/sessions", Some(&alice.access)).await;
        assert_eq!(list.status, 200, "{}", list.text);
        let sessions = list.body.as_array().expect("array");
        assert_eq!(sessions.len(), 2);
        assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
        let other = sessions
            .iter()
            .find(|s| s["current"] == false)
            .expect("the second session");
        assert_eq!(other["user_agent"], "second-browser/1.0");
        let keys: Vec<&String> = other.as_object().expect("object").keys().collect();
        assert_eq!(
            keys,
            ["created_at", "current", "id", "last_used_at", "user_agent"]
        );
        let id = other["id"].as_str().expect("id");

        let bob = app.user("bob").await;
        let path = format!("/api/v1/auth/sessions/{id}");
        let stranger = app
            .send(reqwest::Method::DELETE, &path, Some(&bob.access), None)
            .await;
        assert_problem(&stranger, 404, "session_not_found");
        let own = app
            .send(reqwest::Method::DELETE, &path, Some(&alice.access), None)
            .await;
        assert_eq!(own.status, 204);
        let second_refresh = second.body["refresh_token"].as_str().expect("token");
        assert_problem(
            &refresh(&app, second_refresh).await,
            401,
            "invalid_refresh_token",
        );
        assert_eq!(
            app.get("/api/v1/auth/sessions", Some(&alice.access))
                .await
                .body
                .as_array()
                .map(Vec::len),
            Some(1)
        );
        let bad = app
            .send(
                reqwest::Method::DELETE,
                "/api/v1/auth/sessions/not-a-uuid",
                Some(&alice.access),
                None,
            )
            .await;
        assert_problem(&bad, 422, "validation_error");
    }

    async fn forged_expired_and_wrong_type_tokens_are_refused(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let alice = app.user("alice").await;
        let (header, rest) = alice.access.split_once('.').expect("jwt");
        let (payload, _signature) = rest.split_once('.').expect("jwt");
        let tampered = format!("{header}.{payload}.AAAA");
        // {"alg":"none","typ":"JWT"}
        let unsigned = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
        for token in [
            tampered.as_str(),
            unsigned.as_str(),
            "garbage",
            alice.refresh.as_str(),
        ] {
            let res = app.get("/api/v1/users/me", Some(token)).await;
            assert_problem(&res, 401, "invalid_credentials");
            assert_eq!(res.body["detail"], "Could not validate credentials");
        }
        assert_problem(
            &refresh(&app, &alice.access).await,
            401,
            "invalid_refresh_token",
        );
        // Another server's tokens (other key) are refused too.
        let other = TestApp::spawn_with(
            TestDb::sqlite().await,
            &[("SECRET_KEY", "another-secret-key-of-enough-length-123")],
        )
        .await;
        let stranger = other.user("stranger").await;
        assert_problem(
            &app.get("/api/v1/users/me", Some(&stranger.access)).await,
            401,
            "invalid_credentials",
        );
        // Expiry is checked against the clock by the codec: see keel-auth's tests.
    }

    async fn a_token_of_a_deleted_user_is_refused(db: TestDb) {
        use sea_orm::ConnectionTrait;
        let app = TestApp::spawn(db).await;
        let alice = app.user("alice").await;
        let statement = sea_orm::Statement::from_string(
            app.db.backend(),
            format!("DELETE FROM users WHERE id = {}", alice.id),
        );
        app.db
            .connection()
            .execute_raw(statement)
            .await
            .expect("deleted");
        let res = app.get("/api/v1/users/me", Some(&alice.access)).await;
        assert_problem(&res, 401, "invalid_credentials");
        assert_eq!(res.body["detail"], "Could not validate credentials");
    }

    /// Logout, logout-all, deleting a session from the list, and refresh-token reuse each end
    /// their families' access tokens at once, not when the tokens' own `exp` passes.
    async fn access_tokens_end_with_their_session(db: TestDb) {
        let app = TestApp::spawn_with(db, &[("REFRESH_TOKEN_REUSE_GRACE_SECONDS", "0")]).await;
        let me = |access: String| {
            let app = &app;
            async move { app.get("/api/v1/users/me", Some(&access)).await }
        };
        let alice = app.user("alice").await;
        let token =
            |body: &serde_json::Value, name: &str| body[name].as_str().expect("token").to_owned();

        // Logout.
        let session = app.login(&alice.email, &alice.password).await;
        let access = token(&session, "access_token");
        assert_eq!(me(access.clone()).await.status, 200);
        let res = app
            .post(
                "/api/v1/auth/logout",
                None,
                &json!({ "refresh_token": token(&session, "refresh_token") }),
            )
            .await;
        assert_eq!(res.status, 204, "{}", res.text);
        assert_problem(&me(access).await, 401, "invalid_credentials");
        assert_eq!(
            me(alice.access.clone()).await.status,
            200,
            "the user's other sessions go on"
        );

        // Deleting a session from the list.
        let session = app.login(&alice.email, &alice.password).await;
        let access = token(&session, "access_token");
        let list = app.get("/api/v1/auth/sessions", Some(&access)).await;
        let id = list
            .body
            .as_array()
            .expect("array")
            .iter()
            .find(|s| s["current"] == true)
            .and_then(|s| s["id"].as_str())
            .expect("the current session")
            .to_owned();
        let res = app
            .send(
                reqwest::Method::DELETE,
                &format!("/api/v1/auth/sessions/{id}"),
                Some(&alice.access),
                None,
            )
            .await;
        assert_eq!(res.status, 204, "{}", res.text);
        assert_problem(&me(access).await, 401, "invalid_credentials");

        // Reuse of a rotated refresh token: every access token of the family ends, the one
        // issued with the rotation too.
        let session = app.login(&alice.email, &alice.password).await;
        let first = token(&session, "access_token");
        let rotated = refresh(&app, &token(&session, "refresh_token")).await;
        assert_eq!(rotated.status, 200, "{}", rotated.text);
        let second = token(&rotated.body, "access_token");
        assert_eq!(me(first.clone()).await.status, 200);
        assert_eq!(me(second.clone()).await.status, 200);
        assert_problem(
            &refresh(&app, &token(&session, "refresh_token")).await,
            401,
            "invalid_refresh_token",
        );
        assert_problem(&me(first).await, 401, "invalid_credentials");
        assert_problem(&me(second).await, 401, "invalid_credentials");

        // Logout-all ends the rest, the caller's own token included.
        let other = app.login(&alice.email, &alice.password).await;
        let res = app
            .post("/api/v1/auth/logout-all", Some(&alice.access), &json!({}))
            .await;
        assert_eq!(res.status, 204, "{}", res.text);
        assert_problem(&me(alice.access.clone()).await, 401, "invalid_credentials");
        assert_problem(
            &me(token(&other, "access_token")).await,
            401,
            "invalid_credentials",
        );
    }
}
