//! What the scenarios share: a webhook receiver, running worker processes, seeding and reading
//! the outbox.

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use keel_domain::Timestamp;
use keel_testkit::db::TestDb;
use keel_webhook::Signer;
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_worker");
pub const SECRET: &str = "worker-e2e-webhook-secret";

/// One delivery as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub key: String,
    pub topic: String,
    pub signature_valid: bool,
    pub body: serde_json::Value,
}

/// A local webhook receiver that verifies `X-Keel-Signature` and answers 204 after `delay`
/// (401 for a bad signature).
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub seen: Arc<Mutex<Vec<Delivery>>>,
}

#[derive(Clone)]
struct ReceiverState {
    seen: Arc<Mutex<Vec<Delivery>>>,
    delay: Duration,
    signer: Signer,
}

async fn hook(
    state: web::Data<ReceiverState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    if !state.delay.is_zero() {
        tokio::time::sleep(state.delay).await;
    }
    let signature_valid = state.signer.verify(&body, &header("X-Keel-Signature"));
    state.seen.lock().expect("lock").push(Delivery {
        key: header("Idempotency-Key"),
        topic: header("X-Keel-Event"),
        signature_valid,
        body: serde_json::from_slice(&body).unwrap_or_default(),
    });
    if signature_valid {
        HttpResponse::NoContent().finish()
    } else {
        HttpResponse::Unauthorized().finish()
    }
}

impl Receiver {
    pub async fn start(delay: Duration) -> Self {
        let seen: Arc<Mutex<Vec<Delivery>>> = Arc::default();
        let state = ReceiverState {
            seen: seen.clone(),
            delay,
            signer: Signer::new(SECRET.as_bytes()).expect("key"),
        };
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(state.clone()))
                .route("/hooks", web::post().to(hook))
        })
        .workers(2)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .expect("bind the receiver");
        let addr = server.addrs()[0];
        tokio::spawn(server.run());
        Self {
            url: format!("http://{addr}/hooks"),
            seen,
        }
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.seen.lock().expect("lock").clone()
    }

    pub fn count(&self) -> usize {
        self.seen.lock().expect("lock").len()
    }

    /// How many times each key was delivered.
    pub fn per_key(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for delivery in self.deliveries() {
            *counts.entry(delivery.key).or_insert(0) += 1;
        }
        counts
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A `worker` process; killed when dropped.
pub struct Worker {
    pub child: Child,
    pub base: String,
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `worker run` on `database_url` with the webhook sink pointed at `receiver`; `extra`
/// variables override the defaults.
pub fn spawn_worker(database_url: &str, receiver: &Receiver, extra: &[(&str, &str)]) -> Worker {
    let port = free_port();
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("WORKER_PORT", port.to_string())
        .env("OUTBOX_SINKS", "webhook")
        .env("OUTBOX_WEBHOOK_URL", &receiver.url)
        .env("OUTBOX_WEBHOOK_SECRET", SECRET)
        .env("OUTBOX_WEBHOOK_TIMEOUT_SECONDS", "2")
        .env("OUTBOX_DISPATCH_INTERVAL_SECONDS", "1")
        .env("OUTBOX_RETRY_BACKOFF_SECONDS", "1")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(if std::env::var_os("KEEL_TEST_WORKER_LOGS").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        });
    for (key, value) in extra {
        command.env(key, value);
    }
    Worker {
        child: command.spawn().expect("spawning worker"),
        base: format!("http://127.0.0.1:{port}"),
    }
}

impl Worker {
    /// Waits until `/ready` answers 200.
    pub async fn ready(&self) {
        keel_bootstrap::install_crypto_provider();
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(res) = client.get(format!("{}/ready", self.base)).send().await
                && res.status() == 200
            {
                return;
            }
            assert!(Instant::now() < deadline, "the worker did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        keel_bootstrap::install_crypto_provider();
        let res = reqwest::Client::new()
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request");
        (res.status().as_u16(), res.text().await.expect("body"))
    }

    /// Sends SIGTERM and waits (at most `within`) for the exit.
    pub fn terminate(&mut self, within: Duration) -> ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the worker did not stop within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn instant(backend: DbBackend, at: Timestamp) -> Value {
    match backend {
        DbBackend::Sqlite => Value::String(Some(at.to_rfc3339())),
        _ => Value::TimeDateTimeWithTimeZone(Some(at.as_offset_date_time())),
    }
}

pub fn now() -> Timestamp {
    Timestamp::new(time::OffsetDateTime::now_utc())
}

/// Inserts `count` pending events (in statements of 500 rows); returns their keys.
pub async fn seed(db: &TestDb, count: usize, topic: &str) -> BTreeSet<String> {
    let backend = db.backend();
    let mut keys = BTreeSet::new();
    let mut remaining = count;
    while remaining > 0 {
        let chunk = remaining.min(500);
        remaining -= chunk;
        let mut sql = String::from(
            "INSERT INTO outbox_events (event_key, topic, payload, created_at, available_at) VALUES ",
        );
        let mut values = Vec::new();
        for n in 0..chunk {
            let key = uuid::Uuid::new_v4();
            keys.insert(key.to_string());
            let base = values.len();
            let placeholders: Vec<String> = (1..=5)
                .map(|i| match backend {
                    DbBackend::Postgres => format!("${}", base + i),
                    _ => "?".to_owned(),
                })
                .collect();
            if n > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("({})", placeholders.join(", ")));
            let at = now();
            values.extend([
                Value::Uuid(Some(key)),
                Value::String(Some(topic.to_owned())),
                Value::Json(Some(Box::new(serde_json::json!({ "n": n })))),
                instant(backend, at),
                instant(backend, at),
            ]);
        }
        db.connection()
            .execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await
            .expect("seed the outbox");
    }
    keys
}

/// Events per status.
pub async fn statuses(db: &TestDb) -> BTreeMap<String, i64> {
    let rows = db
        .connection()
        .query_all_raw(Statement::from_string(
            db.backend(),
            "SELECT status, COUNT(*) AS n FROM outbox_events GROUP BY status",
        ))
        .await
        .expect("count statuses");
    rows.iter()
        .map(|row| {
            (
                row.try_get::<String>("", "status").expect("status"),
                row.try_get::<i64>("", "n").expect("count"),
            )
        })
        .collect()
}

/// Waits (at most `within`) until `done` holds, polling every 50 ms.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
