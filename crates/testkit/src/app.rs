//! The running application for HTTP-level tests: [`TestApp::spawn`] starts the real actix app
//! (the composition root of `keel-bootstrap`) on port 0 against a per-test database, with an
//! HTTP client and helpers for the common journeys.

use crate::db::TestDb;
use keel_bootstrap::api::RunningApi;
use keel_bootstrap::{Config, Env};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// The signing key tests run with.
pub const TEST_SECRET_KEY: &str = "keel-test-secret-key-0123456789abcdef";

/// The default rate limits (`.env.example`, docs/contract.md), which [`TestApp`] raises: pass these to
/// [`TestApp::spawn_with`] to test with the real ones.
pub const REAL_RATE_LIMITS: [(&str, &str); 4] = [
    ("RATE_LIMIT_LOGIN_LIMIT", "10"),
    ("RATE_LIMIT_REGISTER_LIMIT", "5"),
    ("RATE_LIMIT_READ_LIMIT", "120"),
    ("RATE_LIMIT_WRITE_LIMIT", "60"),
];

/// A response, read whole.
#[derive(Debug)]
pub struct TestResponse {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// The body as text.
    pub text: String,
    /// The body as JSON (`Null` when it is not JSON).
    pub body: Value,
}

impl TestResponse {
    /// A header as text.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `error_code` of a problem body.
    #[must_use]
    pub fn error_code(&self) -> &str {
        self.body["error_code"].as_str().unwrap_or("")
    }
}

/// A registered, logged-in user.
#[derive(Debug, Clone)]
pub struct TestUser {
    /// Id.
    pub id: i64,
    /// Address.
    pub email: String,
    /// Password.
    pub password: String,
    /// Access token.
    pub access: String,
    /// Refresh token.
    pub refresh: String,
}

/// The app under test.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// A plain client (no cookies, no redirects followed).
    pub client: reqwest::Client,
    /// The app's database.
    pub db: TestDb,
    running: RunningApi,
}

impl TestApp {
    /// Starts the app on `db` with the test configuration.
    ///
    /// # Panics
    /// When the app cannot start.
    pub async fn spawn(db: TestDb) -> Self {
        Self::spawn_with(db, &[]).await
    }

    /// Starts the app on `db` with extra environment variables.
    ///
    /// # Panics
    /// When the configuration is invalid or the app cannot start.
    pub async fn spawn_with(db: TestDb, overrides: &[(&str, &str)]) -> Self {
        let mut pairs = vec![
            ("DATABASE_URL".to_owned(), db.url().to_owned()),
            ("HOST".to_owned(), "127.0.0.1".to_owned()),
            ("PORT".to_owned(), "0".to_owned()),
            ("DATABASE_MIGRATE_ON_START".to_owned(), "false".to_owned()),
            ("ENVIRONMENT".to_owned(), "test".to_owned()),
            ("SECRET_KEY".to_owned(), TEST_SECRET_KEY.to_owned()),
            ("LOG_FORMAT".to_owned(), "json".to_owned()),
            ("RUST_LOG".to_owned(), "warn".to_owned()),
        ];
        // Tests send many requests from one address: budgets far above any test's traffic,
        // except where a test sets its own (see `REAL_RATE_LIMITS`).
        for policy in ["LOGIN", "REGISTER", "READ", "WRITE"] {
            pairs.push((format!("RATE_LIMIT_{policy}_LIMIT"), "1000000".to_owned()));
        }
        for (key, value) in overrides {
            pairs.retain(|(k, _)| k != key);
            pairs.push(((*key).to_owned(), (*value).to_owned()));
        }
        let config = Config::from_env(&Env::from_pairs(pairs))
            .unwrap_or_else(|e| panic!("test configuration: {e}"));
        keel_bootstrap::logging::init(&config.observability);
        // reqwest is built with rustls but no provider of its own (see BUILD-NOTES).
        keel_bootstrap::install_crypto_provider();
        let running = keel_bootstrap::api::start(&config)
            .await
            .unwrap_or_else(|e| panic!("starting the app: {e:#}"));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|e| panic!("building the HTTP client: {e}"));
        Self {
            base_url: format!("http://{}", running.addr),
            client,
            db,
            running,
        }
    }

    /// Marks shutdown as begun (as SIGTERM does): `/ready` turns 503.
    pub fn begin_shutdown(&self) {
        self.running.shutdown.set();
    }

    /// Sends a request; `body` is sent as JSON when given.
    ///
    /// # Panics
    /// When the request cannot be sent.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> TestResponse {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base_url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        Self::read(request).await
    }

    /// Sends a prepared request and reads the whole response.
    ///
    /// # Panics
    /// When the request cannot be sent or the body read.
    pub async fn read(request: reqwest::RequestBuilder) -> TestResponse {
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("sending the request: {e}"));
        let status = response.status();
        let headers = response.headers().clone();
        let text = response
            .text()
            .await
            .unwrap_or_else(|e| panic!("reading the body: {e}"));
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        TestResponse {
            status,
            headers,
            text,
            body,
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str, token: Option<&str>) -> TestResponse {
        self.send(Method::GET, path, token, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> TestResponse {
        self.send(Method::POST, path, token, Some(body)).await
    }

    /// Registers a user.
    ///
    /// # Panics
    /// When registration does not answer 201.
    pub async fn register(&self, email: &str, password: &str) -> Value {
        let res = self
            .post(
                "/api/v1/users",
                None,
                &serde_json::json!({ "email": email, "password": password }),
            )
            .await;
        assert_eq!(
            res.status,
            StatusCode::CREATED,
            "registering {email}: {}",
            res.text
        );
        res.body
    }

    /// Logs in with the OAuth2 password form; returns the `Token` body.
    ///
    /// # Panics
    /// When login does not answer 200.
    pub async fn login(&self, email: &str, password: &str) -> Value {
        let request = self
            .client
            .post(format!("{}/api/v1/login", self.base_url))
            .form(&[("username", email), ("password", password)]);
        let res = Self::read(request).await;
        assert_eq!(
            res.status,
            StatusCode::OK,
            "logging in {email}: {}",
            res.text
        );
        res.body
    }

    /// Registers and logs in a user named `name` (`{name}@example.com`).
    pub async fn user(&self, name: &str) -> TestUser {
        let email = format!("{name}@example.com");
        let password = format!("{name}-password");
        let created = self.register(&email, &password).await;
        let tokens = self.login(&email, &password).await;
        TestUser {
            id: created["id"].as_i64().unwrap_or_default(),
            email,
            password,
            access: tokens["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            refresh: tokens["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        }
    }

    /// Creates a post as `user`; returns the `Post` body.
    ///
    /// # Panics
    /// When creation does not answer 201.
    pub async fn create_post(&self, user: &TestUser, title: &str, published: bool) -> Value {
        let body = serde_json::json!({ "title": title, "content": format!("content of {title}"), "published": published });
        let res = self.post("/api/v1/posts", Some(&user.access), &body).await;
        assert_eq!(
            res.status,
            StatusCode::CREATED,
            "creating {title}: {}",
            res.text
        );
        res.body
    }
}
