//! Mail end to end: the api (in process, the same wiring as the `api` binary) writes the mail
//! events, the real `worker` binary renders them and sends them over SMTP to the testkit's
//! in-process SMTP sink; the tokens read from the received mails drive the verification and
//! reset flows. The webhook sink configured next to it never sees a mail event.

use crate::harness::{Receiver, spawn_worker};
use keel_testkit::app::TestApp;
use keel_testkit::db::TestDb;
use keel_testkit::smtp_sink::SmtpSink;
use serde_json::json;
use std::time::Duration;

on_every_backend!(verification_and_reset_mails_arrive_and_their_tokens_work_once,);

const WAIT: Duration = Duration::from_secs(30);

async fn verification_and_reset_mails_arrive_and_their_tokens_work_once(db: TestDb) {
    let label = db.label();
    let url = db.url().to_owned();
    let app = TestApp::spawn(db).await;
    let smtp = SmtpSink::start().await;
    let receiver = Receiver::start(Duration::ZERO).await;
    let smtp_url = smtp.url();
    let mut worker = spawn_worker(
        &url,
        &receiver,
        &[
            ("SMTP_URL", smtp_url.as_str()),
            ("EMAIL_FROM", "keel tests <no-reply@keel.test>"),
            ("OAUTH_PUBLIC_BASE_URL", "http://gui.keel.test"),
        ],
    );
    worker.ready().await;

    // Register → the verification mail → verify → email_verified.
    let alice = app.user("alice").await;
    let mail = smtp
        .wait_for("alice@example.com", "Verify your email address", WAIT)
        .await;
    assert_eq!(mail.from, "no-reply@keel.test", "[{label}]");
    assert!(mail.data.contains("text/plain"), "[{label}] {}", mail.data);
    assert!(mail.data.contains("text/html"), "[{label}] {}", mail.data);
    assert!(
        mail.text()
            .contains("http://gui.keel.test/#/verify-email?token="),
        "[{label}] {}",
        mail.data
    );
    let token = mail.token().expect("a token in the mail");
    assert_eq!(token.len(), 43, "[{label}]");
    let res = app
        .post(
            "/api/v1/auth/verify-email",
            None,
            &json!({ "token": token }),
        )
        .await;
    assert_eq!(res.status, 204, "[{label}] {}", res.text);
    let me = app.get("/api/v1/users/me", Some(&alice.access)).await;
    assert_eq!(me.body["email_verified"], true, "[{label}]");
    let again = app
        .post(
            "/api/v1/auth/verify-email",
            None,
            &json!({ "token": token }),
        )
        .await;
    assert_eq!(again.status, 400, "[{label}] reused");
    assert_eq!(again.error_code(), "invalid_verification_token");

    // Reset → the reset mail → confirm → old password refused, new one works, every
    // earlier session over.
    let second = app.login(&alice.email, &alice.password).await;
    for email in ["alice@example.com", "nobody@example.com"] {
        let res = app
            .post(
                "/api/v1/auth/password-reset",
                None,
                &json!({ "email": email }),
            )
            .await;
        assert_eq!(res.status, 202, "[{label}] {email}: {}", res.text);
    }
    let mail = smtp
        .wait_for("alice@example.com", "Reset your password", WAIT)
        .await;
    assert!(
        mail.text()
            .contains("http://gui.keel.test/#/reset-password?token="),
        "[{label}] {}",
        mail.data
    );
    let token = mail.token().expect("a token in the mail");
    let confirm = |token: String| {
        let app = &app;
        async move {
            app.post(
                "/api/v1/auth/password-reset/confirm",
                None,
                &json!({ "token": token, "new_password": "a brand new password" }),
            )
            .await
        }
    };
    let flipped = if token.starts_with('A') { "B" } else { "A" };
    let tampered = confirm(format!("{flipped}{}", &token[1..])).await;
    assert_eq!(tampered.status, 400, "[{label}] tampered");
    assert_eq!(tampered.error_code(), "invalid_reset_token");
    let res = confirm(token.clone()).await;
    assert_eq!(res.status, 204, "[{label}] {}", res.text);
    let reused = confirm(token).await;
    assert_eq!(reused.status, 400, "[{label}] reused");
    assert_eq!(reused.error_code(), "invalid_reset_token");

    let old = TestApp::read(
        app.client
            .post(format!("{}/api/v1/login", app.base_url))
            .form(&[
                ("username", alice.email.as_str()),
                ("password", &alice.password),
            ]),
    )
    .await;
    assert_eq!(old.status, 403, "[{label}] the old password is refused");
    app.login(&alice.email, "a brand new password").await;
    for access in [
        alice.access.as_str(),
        second["access_token"].as_str().expect("access"),
    ] {
        let res = app.get("/api/v1/users/me", Some(access)).await;
        assert_eq!(res.status, 401, "[{label}] an earlier access token");
    }
    for refresh in [
        alice.refresh.as_str(),
        second["refresh_token"].as_str().expect("refresh"),
    ] {
        let res = app
            .post(
                "/api/v1/auth/refresh",
                None,
                &json!({ "refresh_token": refresh }),
            )
            .await;
        assert_eq!(res.status, 401, "[{label}] an earlier refresh token");
    }

    // Nothing was mailed to the unknown address; no mail event reached the webhook.
    assert!(
        smtp.mails()
            .iter()
            .all(|m| m.to.iter().all(|to| to != "nobody@example.com")),
        "[{label}]"
    );
    assert!(
        receiver
            .deliveries()
            .iter()
            .all(|d| !d.topic.starts_with("mail.")),
        "[{label}]"
    );
    let exit = worker.terminate(Duration::from_secs(15));
    assert!(exit.success(), "[{label}] exit {exit:?}");

    // Every mail was sent, and its row kept no token: the completion removed it.
    let rows = mail_rows(&app.db).await;
    assert_eq!(
        rows.len(),
        2,
        "[{label}] the verification and the reset: {rows:?}"
    );
    for (status, payload) in rows {
        assert_eq!(status, "completed", "[{label}] {payload}");
        assert!(payload.get("token").is_none(), "[{label}] {payload}");
        assert!(
            payload["email"].is_string() && payload["expires_at"].is_string(),
            "[{label}] {payload}"
        );
    }
}

/// The status and payload of every mail event's outbox row.
async fn mail_rows(db: &TestDb) -> Vec<(String, serde_json::Value)> {
    let sql = "SELECT status, CAST(payload AS TEXT) AS payload FROM outbox_events \
               WHERE topic LIKE 'mail.%' ORDER BY id";
    string_pairs(db, sql, "payload")
        .await
        .into_iter()
        .map(|(status, payload)| {
            (
                status,
                serde_json::from_str(&payload).expect("JSON payload"),
            )
        })
        .collect()
}

/// The `last_error` of the outbox rows of `topic`.
async fn last_errors(db: &TestDb, topic: &str) -> Vec<(String, String)> {
    let sql = format!(
        "SELECT status, COALESCE(last_error, '') AS last_error FROM outbox_events WHERE topic = '{topic}'"
    );
    string_pairs(db, &sql, "last_error").await
}

/// `status` and the text column `second` of each row `sql` returns.
async fn string_pairs(db: &TestDb, sql: &str, second: &str) -> Vec<(String, String)> {
    use sea_orm::ConnectionTrait;
    db.connection()
        .query_all_raw(sea_orm::Statement::from_string(db.backend(), sql))
        .await
        .expect("outbox rows")
        .iter()
        .map(|row| {
            (
                row.try_get::<String>("", "status").expect("status"),
                row.try_get::<String>("", second).expect(second),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_smtp_server_is_retried_then_dead_letters_the_mail() {
    let db = TestDb::sqlite().await;
    let url = db.url().to_owned();
    let app = TestApp::spawn(db).await;
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let receiver = Receiver::start(Duration::ZERO).await;
    let smtp_url = format!("smtp://127.0.0.1:{port}");
    let mut worker = spawn_worker(
        &url,
        &receiver,
        &[
            ("SMTP_URL", smtp_url.as_str()),
            ("OUTBOX_RETRY_MAX_ATTEMPTS", "2"),
            ("OUTBOX_RETRY_BACKOFF_SECONDS", "1"),
        ],
    );
    worker.ready().await;
    app.user("unlucky").await;
    crate::harness::eventually(WAIT, "the mail event dead-lettered", || async {
        last_errors(&app.db, "mail.verify_email")
            .await
            .iter()
            .any(|(status, _)| status == "failed")
    })
    .await;
    let rows = last_errors(&app.db, "mail.verify_email").await;
    assert!(
        rows.iter().all(|(_, error)| error.starts_with("smtp: ")),
        "{rows:?}"
    );
    // The public event went to the webhook regardless.
    crate::harness::eventually(WAIT, "user.created delivered", || async {
        receiver.count() >= 1
    })
    .await;
    assert!(worker.terminate(Duration::from_secs(15)).success());
}
