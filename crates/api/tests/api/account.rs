//! Email verification and password reset through HTTP: the tokens come from the mail events
//! the outbox holds (the worker and SMTP are exercised by the end-to-end tests).

use crate::posts::outbox;
use crate::{assert_problem, on_every_backend};
use keel_testkit::app::TestApp;
use keel_testkit::db::TestDb;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

on_every_backend!(
    an_email_is_verified_once_with_its_mailed_token,
    a_password_reset_sets_the_password_and_ends_every_session,
);

/// Waits (a password reset request is answered before its work is done) until `count` mail
/// events of `topic` to `email` are in the outbox; returns their tokens, oldest first.
async fn wait_for_tokens(app: &TestApp, topic: &str, email: &str, count: usize) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let tokens = mailed_tokens(app, topic, email).await;
        if tokens.len() >= count {
            return tokens;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{count} {topic} events to {email}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The tokens of the mail events of `topic` sent to `email`, oldest first.
async fn mailed_tokens(app: &TestApp, topic: &str, email: &str) -> Vec<String> {
    outbox(app)
        .await
        .into_iter()
        .filter(|(t, payload)| t == topic && payload["email"] == email)
        .map(|(_, payload)| payload["token"].as_str().expect("token").to_owned())
        .collect()
}

async fn me(app: &TestApp, access: &str) -> Value {
    let res = app.get("/api/v1/users/me", Some(access)).await;
    assert_eq!(res.status, 200, "{}", res.text);
    res.body
}

/// Moves every token's expiry into the past.
async fn expire_tokens(app: &TestApp) {
    let sql = match app.db.backend() {
        sea_orm::DbBackend::Postgres => {
            "UPDATE email_tokens SET expires_at = now() - interval '1 minute'"
        }
        _ => "UPDATE email_tokens SET expires_at = '2000-01-01T00:00:00.000000Z'",
    };
    app.db
        .connection()
        .execute_raw(sea_orm::Statement::from_string(app.db.backend(), sql))
        .await
        .expect("expire tokens");
}

fn tampered(token: &str) -> String {
    let flipped = if token.starts_with('A') { "B" } else { "A" };
    format!("{flipped}{}", &token[1..])
}

async fn an_email_is_verified_once_with_its_mailed_token(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let alice = app.user("alice").await;
    assert_eq!(me(&app, &alice.access).await["email_verified"], false);
    let tokens = mailed_tokens(&app, "mail.verify_email", &alice.email).await;
    assert_eq!(tokens.len(), 1, "the registration mails one token");
    let token = &tokens[0];
    assert_eq!(token.len(), 43);

    let verify = |token: Value| {
        let app = &app;
        async move {
            app.post(
                "/api/v1/auth/verify-email",
                None,
                &json!({ "token": token }),
            )
            .await
        }
    };
    for bad in [json!(tampered(token)), json!("short"), json!("")] {
        assert_problem(&verify(bad).await, 400, "invalid_verification_token");
    }
    assert_problem(&verify(json!(42)).await, 422, "validation_error");
    let res = verify(json!(token)).await;
    assert_eq!(res.status, 204, "{}", res.text);
    assert_eq!(me(&app, &alice.access).await["email_verified"], true);
    assert_problem(
        &verify(json!(token)).await,
        400,
        "invalid_verification_token",
    );

    // Resend: 202; a verified account gets no new mail, an unverified one a fresh token.
    let res = app
        .post(
            "/api/v1/auth/verify-email/resend",
            Some(&alice.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status, 202, "{}", res.text);
    assert_eq!(
        mailed_tokens(&app, "mail.verify_email", &alice.email)
            .await
            .len(),
        1
    );
    let res = app
        .post("/api/v1/auth/verify-email/resend", None, &json!({}))
        .await;
    assert_problem(&res, 401, "invalid_credentials");
    let bob = app.user("bob").await;
    let res = app
        .post(
            "/api/v1/auth/verify-email/resend",
            Some(&bob.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status, 202, "{}", res.text);
    let bobs = mailed_tokens(&app, "mail.verify_email", &bob.email).await;
    assert_eq!(bobs.len(), 2);
    assert_ne!(bobs[0], bobs[1]);
    // Expired: refused.
    expire_tokens(&app).await;
    assert_problem(
        &verify(json!(bobs[1])).await,
        400,
        "invalid_verification_token",
    );
    assert_eq!(me(&app, &bob.access).await["email_verified"], false);
}

async fn a_password_reset_sets_the_password_and_ends_every_session(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let carol = app.user("carol").await;
    let second = app.login(&carol.email, &carol.password).await;

    let request = |email: Value| {
        let app = &app;
        async move {
            app.post(
                "/api/v1/auth/password-reset",
                None,
                &json!({ "email": email }),
            )
            .await
        }
    };
    for email in [json!(carol.email), json!("Nobody@Example.com")] {
        let res = request(email).await;
        assert_eq!(res.status, 202, "{}", res.text);
        assert_eq!(res.text, "");
    }
    assert_problem(
        &request(json!("not an email")).await,
        422,
        "validation_error",
    );
    let tokens = wait_for_tokens(&app, "mail.password_reset", &carol.email, 1).await;
    assert_eq!(tokens.len(), 1);
    assert!(
        mailed_tokens(&app, "mail.password_reset", "nobody@example.com")
            .await
            .is_empty(),
        "nothing is mailed for an unknown address"
    );
    let token = &tokens[0];

    let confirm = |token: &str, password: &str| {
        let app = &app;
        let body = json!({ "token": token, "new_password": password });
        async move {
            app.post("/api/v1/auth/password-reset/confirm", None, &body)
                .await
        }
    };
    assert_problem(&confirm(token, "short").await, 422, "validation_error");
    assert_problem(
        &confirm(&tampered(token), "brand new password").await,
        400,
        "invalid_reset_token",
    );
    let res = confirm(token, "brand new password").await;
    assert_eq!(res.status, 204, "{}", res.text);
    assert_problem(
        &confirm(token, "another new password").await,
        400,
        "invalid_reset_token",
    );

    // The old password is refused, the new one works and the email is verified.
    let old = TestApp::read(
        app.client
            .post(format!("{}/api/v1/login", app.base_url))
            .form(&[
                ("username", carol.email.as_str()),
                ("password", &carol.password),
            ]),
    )
    .await;
    assert_problem(&old, 403, "invalid_credentials");
    let fresh = app.login(&carol.email, "brand new password").await;
    let access = fresh["access_token"].as_str().expect("access");
    assert_eq!(me(&app, access).await["email_verified"], true);
    // Every earlier session ended: access tokens and refresh tokens answer 401.
    for earlier in [
        carol.access.as_str(),
        second["access_token"].as_str().expect("access"),
    ] {
        let res = app.get("/api/v1/users/me", Some(earlier)).await;
        assert_problem(&res, 401, "invalid_credentials");
    }
    for refresh in [
        carol.refresh.as_str(),
        second["refresh_token"].as_str().expect("refresh"),
    ] {
        let res = app
            .post(
                "/api/v1/auth/refresh",
                None,
                &json!({ "refresh_token": refresh }),
            )
            .await;
        assert_problem(&res, 401, "invalid_refresh_token");
    }

    // An expired token is refused and changes nothing.
    let res = request(json!(carol.email)).await;
    assert_eq!(res.status, 202);
    let tokens = wait_for_tokens(&app, "mail.password_reset", &carol.email, 2).await;
    expire_tokens(&app).await;
    assert_problem(
        &confirm(&tokens[1], "yet another password").await,
        400,
        "invalid_reset_token",
    );
    app.login(&carol.email, "brand new password").await;
}
