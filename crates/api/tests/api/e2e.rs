//! End-to-end: the real `api` binary, started as a newcomer would, serving the whole journey,
//! then stopped with SIGTERM.

use keel_testkit::db::TestDb;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_api");

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

async fn start(database_url: &str, dir: &std::path::Path) -> Server {
    start_with(database_url, dir, &[]).await
}

async fn start_with(database_url: &str, dir: &std::path::Path, env: &[(&str, &str)]) -> Server {
    // reqwest is built with rustls but no provider of its own (see BUILD-NOTES).
    keel_bootstrap::install_crypto_provider();
    let port = free_port();
    let child = Command::new(BIN)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("PORT", port.to_string())
        .env("LOG_FORMAT", "json")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning api");
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(res) = client.get(format!("{}/ready", server.base)).send().await
            && res.status() == 200
        {
            return server;
        }
        assert!(Instant::now() < deadline, "api did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn journey(server: &Server) {
    let client = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", server.base);
    let health: Value = client
        .get(url("/health"))
        .send()
        .await
        .expect("health")
        .json()
        .await
        .expect("json");
    assert_eq!(health, json!({ "status": "ok" }));
    let res = client
        .post(url("/api/v1/users"))
        .json(&json!({ "email": "e2e@example.com", "password": "password1" }))
        .send()
        .await
        .expect("register");
    assert_eq!(res.status(), 201);
    let tokens: Value = client
        .post(url("/api/v1/login"))
        .form(&[("username", "e2e@example.com"), ("password", "password1")])
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let access = tokens["access_token"].as_str().expect("access token");
    let post: Value = client
        .post(url("/api/v1/posts"))
        .bearer_auth(access)
        .json(&json!({ "title": "From the binary", "content": "e2e" }))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let id = post["id"].as_i64().expect("id");
    let vote = client
        .post(url("/api/v1/vote"))
        .bearer_auth(access)
        .json(&json!({ "post_id": id, "dir": 1 }))
        .send()
        .await
        .expect("vote");
    assert_eq!(vote.status(), 201);
    let feed: Value = client
        .get(url("/api/posts"))
        .bearer_auth(access)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(feed[0]["Post"]["id"], id);
    assert_eq!(feed[0]["votes"], 1);
}

fn terminate(server: &mut Server) -> std::process::ExitStatus {
    send_sigterm(server);
    exit_within(server, Duration::from_secs(35))
}

fn send_sigterm(server: &Server) {
    let pid = server.child.id().to_string();
    let sent = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(sent.success());
}

fn exit_within(server: &mut Server, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "api did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_the_journey_on_sqlite_and_stops_cleanly_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("keel-e2e-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    // The default DATABASE_URL, as a newcomer runs it: a SQLite file in the working directory.
    let mut server = start("sqlite://keel.db?mode=rwc", &dir).await;
    journey(&server).await;
    assert!(dir.join("keel.db").exists());
    let status = terminate(&mut server);
    assert!(status.success(), "exit status {status:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_configuration_stops_the_process_naming_the_variable() {
    let output = Command::new(BIN)
        .env("PORT", "eighty")
        .arg("openapi")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("PORT") && stderr.contains("port number"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn openapi_and_migrate_subcommands_work() {
    let output = Command::new(BIN).arg("openapi").output().expect("run");
    assert!(output.status.success());
    let document: Value = serde_json::from_slice(&output.stdout).expect("JSON document");
    assert!(document["paths"]["/api/v1/posts"].is_object());

    let dir = std::env::temp_dir().join(format!("keel-migrate-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let run = |args: &[&str]| {
        Command::new(BIN)
            .current_dir(&dir)
            .env("DATABASE_URL", "sqlite://m.db?mode=rwc")
            .args(args)
            .output()
            .expect("run")
    };
    let status = run(&["migrate", "status"]);
    assert!(String::from_utf8_lossy(&status.stdout).contains("pending"));
    assert!(run(&["migrate", "up"]).status.success());
    assert!(String::from_utf8_lossy(&run(&["migrate", "status"]).stdout).contains("applied"));
    assert!(run(&["migrate", "down"]).status.success());
    assert!(run(&["migrate", "fresh"]).status.success());
    assert!(!run(&["migrate", "sideways"]).status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trickling_a_body_does_not_stretch_the_sigterm_drain_past_its_body_deadline() {
    let dir = std::env::temp_dir().join(format!("keel-e2e-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut server = start_with(
        "sqlite://keel.db?mode=rwc",
        &dir,
        &[("REQUEST_BODY_TIMEOUT_SECONDS", "2")],
    )
    .await;
    let addr: std::net::SocketAddr = server
        .base
        .trim_start_matches("http://")
        .parse()
        .expect("address");
    let body = br#"{"email":"slow@example.com","password":"password1"}"#;
    let head = format!(
        "POST /api/v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let slow = tokio::spawn(async move { crate::slow_clients::trickle(addr, &head, body).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // In flight, mid-body: the drain waits for it, but only until its body deadline (then the
    // 408 and the server's 5 s to close the connection) — not the 30 s shutdown timeout.
    let stopping = Instant::now();
    let status = tokio::task::spawn_blocking(move || {
        let status = terminate(&mut server);
        (status, server)
    })
    .await
    .expect("terminate");
    let drained_in = stopping.elapsed();
    println!("SIGTERM to exit: {drained_in:?}");
    assert!(status.0.success(), "exit status {:?}", status.0);
    assert!(
        drained_in < Duration::from_secs(12),
        "drained in {drained_in:?}"
    );
    let seen = slow.await.expect("trickler");
    assert!(
        seen.response.starts_with("HTTP/1.1 408"),
        "{}",
        seen.response
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Needs PostgreSQL (`TEST_DATABASE_URL`); left out, counted as skipped, when it is not configured.
mod postgres {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_binary_serves_the_journey_on_postgres() {
        let db = TestDb::postgres().await;
        let dir = std::env::temp_dir();
        let mut server = start(db.url(), &dir).await;
        journey(&server).await;
        assert!(terminate(&mut server).success());
    }

    /// A password-reset request is answered 202 before its work; SIGTERM right after must not
    /// drop that work. The test holds a lock on `email_tokens`, so the work is still waiting for
    /// it when SIGTERM arrives, and releases it a second later.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sigterm_waits_for_the_work_of_an_answered_password_reset_request() {
        use sea_orm::{ConnectionTrait, TransactionTrait};
        let db = TestDb::postgres().await;
        let mut server = start(db.url(), &std::env::temp_dir()).await;
        let client = reqwest::Client::new();
        let res = client
            .post(format!("{}/api/v1/users", server.base))
            .json(&json!({ "email": "reset@example.com", "password": "password1" }))
            .send()
            .await
            .expect("register");
        assert_eq!(res.status(), 201);

        let lock = db.connection().begin().await.expect("begin");
        lock.execute_unprepared("LOCK TABLE email_tokens IN ACCESS EXCLUSIVE MODE")
            .await
            .expect("lock");
        let res = client
            .post(format!("{}/api/v1/auth/password-reset", server.base))
            .header("connection", "close")
            .json(&json!({ "email": "reset@example.com" }))
            .send()
            .await
            .expect("reset request");
        assert_eq!(res.status(), 202);
        drop(client);

        send_sigterm(&server);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(
            server.child.try_wait().expect("wait").is_none(),
            "the api stopped while the reset's work was waiting"
        );
        lock.commit().await.expect("unlock");
        let status = exit_within(&mut server, Duration::from_secs(15));
        assert!(status.success(), "exit status {status:?}");

        let events = db
            .connection()
            .query_all_raw(sea_orm::Statement::from_string(
                db.backend(),
                "SELECT topic FROM outbox_events WHERE topic = 'mail.password_reset' \
                 AND payload ->> 'email' = 'reset@example.com'",
            ))
            .await
            .expect("outbox");
        assert_eq!(events.len(), 1, "the reset's mail event was written");
    }
}
