//! keel's typed configuration, read once from the environment (and a `.env` file).
//!
//! Every variable (`.env.example`, docs/contract.md#configuration) is optional and parsed here; a bad value stops start-up with a
//! message naming the variable and the accepted values. The process environment overrides
//! `.env`. Secrets are [`SecretString`]s and never printed.

use keel_http::ApiVersions;
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

/// The development signing key used when `SECRET_KEY` is unset (refused in production).
pub const DEV_SECRET_KEY: &str = "keel-development-secret-key-change-me-0000";
const KNOWN_DEFAULT_SECRETS: &[&str] = &[
    DEV_SECRET_KEY,
    "changeme",
    "change-me",
    "secret",
    "dev-secret",
    "your-secret-key",
];

/// A variable with a value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {variable}={value:?}: expected {expected}")]
pub struct ConfigError {
    /// The environment variable.
    pub variable: String,
    /// The value found (redacted for secrets).
    pub value: String,
    /// What is accepted.
    pub expected: String,
}

/// Deployment environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// Local development (lenient defaults).
    Development,
    /// Automated tests.
    Test,
    /// Production: weak settings are refused.
    Production,
}

impl Environment {
    /// The name as configured.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Test => "test",
            Self::Production => "production",
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable.
    Pretty,
}

/// JWT signing algorithm (HMAC family only).
pub use keel_auth::JwtAlgorithm;

/// One rate-limit policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitPolicy {
    /// Requests per window.
    pub limit: u32,
    /// Window length (whole seconds, at most a day).
    pub window: Duration,
}

/// Outbox delivery targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxSink {
    /// Log each event.
    Log,
    /// XADD to a Redis stream.
    Redis,
    /// POST to a webhook.
    Webhook,
}

/// Database settings.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// Connection URL (may hold a password).
    pub url: SecretString,
    /// Pool size; `None` lets the adapter size it to the machine.
    pub max_connections: Option<u32>,
    /// Apply pending migrations when `api` starts.
    pub migrate_on_start: bool,
}

/// Token settings.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// HMAC key.
    pub secret_key: SecretString,
    /// Whether `secret_key` is the built-in development key.
    pub secret_key_is_default: bool,
    /// Signing algorithm.
    pub algorithm: JwtAlgorithm,
    /// `iss`.
    pub issuer: String,
    /// `aud`.
    pub audience: String,
    /// Access-token lifetime (`ACCESS_TOKEN_EXPIRE_MINUTES`, at most a week).
    pub access_token_expire: Duration,
    /// Refresh-token lifetime (`REFRESH_TOKEN_EXPIRE_DAYS`, at most ten years).
    pub refresh_token_expire: Duration,
    /// Grace window for replaying the immediate predecessor
    /// (`REFRESH_TOKEN_REUSE_GRACE_SECONDS`, at most an hour).
    pub refresh_token_reuse_grace: Duration,
    /// Absolute lifetime of a session family from its login (`SESSION_MAX_AGE_DAYS`, at most
    /// ten years).
    pub session_max_age: Duration,
    /// Lifetime of a mailed email verification token (`EMAIL_VERIFY_EXPIRE_HOURS`, 1 hour to
    /// 30 days).
    pub email_verify_expire: Duration,
    /// Lifetime of a mailed password reset token (`PASSWORD_RESET_EXPIRE_MINUTES`, 5 minutes
    /// to a day).
    pub password_reset_expire: Duration,
}

/// Rate limiting settings.
#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    /// Master switch.
    pub enabled: bool,
    /// Serve requests when the limiter backend is down.
    pub fail_open: bool,
    /// `auth_login`.
    pub login: RateLimitPolicy,
    /// `auth_register`.
    pub register: RateLimitPolicy,
    /// `api_read`.
    pub read: RateLimitPolicy,
    /// `api_write`.
    pub write: RateLimitPolicy,
    /// Prefix of every Redis counter key (`RATE_LIMIT_KEY_PREFIX`, default empty): lets
    /// deployments share one Redis without sharing budgets.
    pub key_prefix: String,
}

/// Outbox and worker settings.
#[derive(Debug, Clone)]
pub struct OutboxConfig {
    /// Events claimed per batch.
    pub batch_size: u32,
    /// Attempts before an event is dead-lettered.
    pub retry_max_attempts: u32,
    /// Base of the exponential backoff.
    pub retry_backoff: Duration,
    /// Fallback poll interval.
    pub dispatch_interval: Duration,
    /// Where events go.
    pub sinks: Vec<OutboxSink>,
    /// Redis stream name.
    pub redis_stream: String,
    /// Webhook target.
    pub webhook_url: Option<String>,
    /// Webhook HMAC key.
    pub webhook_secret: Option<SecretString>,
    /// Timeout of one webhook request (`OUTBOX_WEBHOOK_TIMEOUT_SECONDS`, default 10 s).
    pub webhook_timeout: Duration,
    /// How long a worker's claim on a batch lasts (`OUTBOX_LEASE_SECONDS`, default 60 s); must
    /// exceed the webhook timeout.
    pub lease: Duration,
    /// `SMTP_URL`: when set, the worker mails the mail events (verification, password reset)
    /// through it, whatever `OUTBOX_SINKS` says.
    pub smtp_url: Option<SecretString>,
    /// `EMAIL_FROM`: the sender of those mails (default `keel <no-reply@localhost>`).
    pub email_from: String,
    /// Worker's operational listener host.
    pub worker_host: String,
    /// Worker's operational listener port.
    pub worker_port: u16,
}

/// Edge and hardening settings.
#[derive(Debug, Clone)]
pub struct HttpEdgeConfig {
    /// Allowed CORS origins.
    pub cors_origins: Vec<String>,
    /// Honour `X-Forwarded-For` / `-Proto`.
    pub trust_proxy_headers: bool,
    /// CIDRs of trusted proxies.
    pub trusted_proxies: Vec<String>,
    /// Allowed `Host` values.
    pub trusted_hosts: Vec<String>,
    /// Security headers on every response.
    pub security_headers_enabled: bool,
    /// Content-Security-Policy header.
    pub csp_enabled: bool,
    /// HSTS header.
    pub hsts_enabled: bool,
    /// HSTS max-age (whole seconds).
    pub hsts_max_age: Duration,
    /// Redirect plain HTTP to HTTPS.
    pub https_redirect: bool,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Time a client has to send a request body once its head arrived (then 408).
    pub request_body_timeout: Duration,
}

/// Observability settings.
#[derive(Debug, Clone)]
pub struct ObservabilityConfig {
    /// `/metrics`.
    pub metrics_enabled: bool,
    /// OTLP/HTTP endpoint.
    pub otlp_endpoint: Option<String>,
    /// Service name override.
    pub service_name: Option<String>,
    /// Sentry DSN.
    pub sentry_dsn: Option<SecretString>,
    /// Sentry environment.
    pub sentry_environment: String,
    /// Sentry trace sampling.
    pub sentry_traces_sample_rate: f32,
    /// Log format.
    pub log_format: LogFormat,
    /// `RUST_LOG` filter.
    pub log_filter: String,
}

/// OAuth settings: what every provider shares, and the enabled providers.
#[derive(Debug, Clone)]
pub struct OAuthConfig {
    /// Lifetime of a flow's state (whole seconds).
    pub state_expire: Duration,
    /// Public origin for callback URLs.
    pub public_base_url: Option<String>,
    /// Where browser flows end.
    pub frontend_callback_url: String,
    /// Timeout of every request to a provider (`OAUTH_HTTP_TIMEOUT_SECONDS`, default 10 s).
    pub http_timeout: Duration,
    /// The enabled providers (credentials set), in listing order.
    pub providers: Vec<OAuthProviderConfig>,
}

/// One enabled provider's credentials.
#[derive(Debug, Clone)]
pub struct OAuthProviderConfig {
    /// Which provider.
    pub provider: keel_domain::oauth::Provider,
    /// `OAUTH_{P}_CLIENT_ID`.
    pub client_id: String,
    /// `OAUTH_{P}_CLIENT_SECRET` (Apple: the `.p8` PEM private key).
    pub client_secret: SecretString,
    /// Apple only: `OAUTH_APPLE_TEAM_ID` and `OAUTH_APPLE_KEY_ID`.
    pub apple_team_and_key: Option<(String, String)>,
    /// `oidc` only: `OAUTH_OIDC_ISSUER_URL`.
    pub issuer_url: Option<String>,
    /// `oidc` only: `OAUTH_OIDC_DISPLAY_NAME`.
    pub display_name: Option<String>,
}

/// Whether `url`'s host is a loopback, private, link-local or unspecified address or
/// `localhost` (refused for OpenID issuers in production).
fn is_local_host(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(bracketed) = host_port.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    let host = host.to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") || host.is_empty() {
        return true;
    }
    match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => {
            ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.octets()[0] == 0
        }
        Ok(std::net::IpAddr::V6(ip)) => {
            ip.is_loopback()
                || ip.is_unspecified()
                || (ip.segments()[0] & 0xfe00) == 0xfc00
                || (ip.segments()[0] & 0xffc0) == 0xfe80
                || ip
                    .to_ipv4_mapped()
                    .is_some_and(|v4| v4.is_loopback() || v4.is_private())
        }
        Err(_) => false,
    }
}

/// The enabled providers: a provider is enabled when its client id and secret are both set;
/// one without the other, an Apple provider without team and key ids, or an OpenID provider
/// without issuer (or an issuer without credentials) is a configuration error.
fn oauth_providers(env: &Env, production: bool) -> Result<Vec<OAuthProviderConfig>, ConfigError> {
    use keel_domain::oauth::Provider;
    let mut providers = Vec::new();
    for provider in Provider::ALL {
        let prefix = format!("OAUTH_{}", provider.as_str().to_ascii_uppercase());
        let id_var = format!("{prefix}_CLIENT_ID");
        let secret_var = format!("{prefix}_CLIENT_SECRET");
        let issuer_var = "OAUTH_OIDC_ISSUER_URL";
        let issuer = (provider == Provider::Oidc)
            .then(|| env.optional(issuer_var))
            .flatten();
        let (id, secret) = match (env.optional(&id_var), env.optional(&secret_var)) {
            (None, None) => {
                if issuer.is_some() {
                    return Err(invalid(
                        &id_var,
                        "",
                        "OAUTH_OIDC_CLIENT_ID and OAUTH_OIDC_CLIENT_SECRET with OAUTH_OIDC_ISSUER_URL",
                    ));
                }
                continue;
            }
            (Some(_), None) => {
                return Err(invalid(
                    &secret_var,
                    "",
                    &format!("a value: {id_var} is set"),
                ));
            }
            (None, Some(_)) => {
                return Err(invalid(
                    &id_var,
                    "",
                    &format!("a value: {secret_var} is set"),
                ));
            }
            (Some(id), Some(secret)) => (id, SecretString::from(secret)),
        };
        let apple_team_and_key = if provider == Provider::Apple {
            let team = env.optional("OAUTH_APPLE_TEAM_ID").ok_or_else(|| {
                invalid(
                    "OAUTH_APPLE_TEAM_ID",
                    "",
                    "the Apple developer team id (Apple is enabled)",
                )
            })?;
            let key = env.optional("OAUTH_APPLE_KEY_ID").ok_or_else(|| {
                invalid(
                    "OAUTH_APPLE_KEY_ID",
                    "",
                    "the id of the Sign in with Apple key (Apple is enabled)",
                )
            })?;
            Some((team, key))
        } else {
            None
        };
        if provider == Provider::Oidc {
            let Some(url) = &issuer else {
                return Err(invalid(
                    issuer_var,
                    "",
                    "the issuer URL (the OpenID provider is enabled)",
                ));
            };
            let https = url.starts_with("https://");
            if !(https || url.starts_with("http://")) || url.contains('#') || url.contains('?') {
                return Err(invalid(
                    issuer_var,
                    url,
                    "an http(s) URL without query or fragment",
                ));
            }
            if production && (!https || is_local_host(url)) {
                return Err(invalid(
                    issuer_var,
                    url,
                    "an https URL of a public host in production",
                ));
            }
        }
        providers.push(OAuthProviderConfig {
            provider,
            client_id: id,
            client_secret: secret,
            apple_team_and_key,
            issuer_url: issuer,
            display_name: (provider == Provider::Oidc)
                .then(|| env.optional("OAUTH_OIDC_DISPLAY_NAME"))
                .flatten(),
        });
    }
    Ok(providers)
}

/// Optional feature packs.
#[derive(Debug, Clone, Copy)]
pub struct Features {
    /// Rate limiting.
    pub rate_limiting: bool,
    /// Metrics, traces, Sentry.
    pub observability: bool,
    /// Outbox worker.
    pub background_jobs: bool,
    /// Browser GUI.
    pub frontend: bool,
}

/// The whole configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen host of `api`.
    pub host: String,
    /// Listen port of `api`.
    pub port: u16,
    /// Deployment environment.
    pub environment: Environment,
    /// Database.
    pub database: DatabaseConfig,
    /// Tokens.
    pub auth: AuthConfig,
    /// API versions.
    pub api_versions: ApiVersions,
    /// Feature packs.
    pub features: Features,
    /// Redis (rate limiter, OAuth state, stream sink) when set.
    pub redis_url: Option<SecretString>,
    /// `/ready` requires Redis.
    pub redis_health_required: bool,
    /// Rate limiting.
    pub rate_limit: RateLimitConfig,
    /// Observability.
    pub observability: ObservabilityConfig,
    /// Outbox and worker.
    pub outbox: OutboxConfig,
    /// OAuth.
    pub oauth: OAuthConfig,
    /// Edge and hardening.
    pub http: HttpEdgeConfig,
}

/// The variables, with the process environment over `.env`.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
    /// Every name looked up, for the test that keeps `.env.example` complete.
    looked_up: std::cell::RefCell<std::collections::BTreeSet<String>>,
}

impl Env {
    /// Reads `.env` from the working directory (if any), then the process environment over it.
    ///
    /// # Errors
    /// A [`ConfigError`] naming `.env` when the file exists but cannot be parsed.
    pub fn load() -> Result<Self, ConfigError> {
        let mut vars = HashMap::new();
        match dotenvy::from_path_iter(".env") {
            Ok(iter) => {
                for item in iter {
                    let (key, value) = item.map_err(|e| ConfigError {
                        variable: ".env".into(),
                        value: e.to_string(),
                        expected: "KEY=value lines".into(),
                    })?;
                    vars.insert(key, value);
                }
            }
            Err(e) if e.not_found() => {}
            Err(e) => {
                return Err(ConfigError {
                    variable: ".env".into(),
                    value: e.to_string(),
                    expected: "a readable file".into(),
                });
            }
        }
        vars.extend(std::env::vars());
        Ok(Self {
            vars,
            looked_up: std::cell::RefCell::default(),
        })
    }

    /// An environment made of these pairs only (tests, embedding).
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            looked_up: std::cell::RefCell::default(),
        }
    }

    /// Every variable name the configuration looked up so far.
    #[must_use]
    pub fn looked_up(&self) -> Vec<String> {
        self.looked_up.borrow().iter().cloned().collect()
    }

    fn raw(&self, name: &str) -> Option<&str> {
        self.looked_up.borrow_mut().insert(name.to_owned());
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn string(&self, name: &str, default: &str) -> String {
        self.raw(name).unwrap_or(default).to_owned()
    }

    fn optional(&self, name: &str) -> Option<String> {
        self.raw(name).map(str::to_owned)
    }

    fn parse<T: FromStr>(&self, name: &str, default: T, expected: &str) -> Result<T, ConfigError> {
        match self.raw(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| invalid(name, v, expected)),
        }
    }

    /// An integer within `range` (inclusive), `default` when unset.
    fn within<T>(&self, name: &str, default: T, range: RangeInclusive<T>) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + fmt::Display,
    {
        let expected = format!("an integer from {} to {}", range.start(), range.end());
        let value = self.parse(name, default, &expected)?;
        if !range.contains(&value) {
            return Err(invalid(name, &value.to_string(), &expected));
        }
        Ok(value)
    }

    /// A duration given as a whole number of `unit`s within `range` (in that unit), `default`
    /// units when unset: the value is a [`Duration`] from here on.
    fn duration(
        &self,
        name: &str,
        unit: Unit,
        default: u64,
        range: RangeInclusive<u64>,
    ) -> Result<Duration, ConfigError> {
        let expected = format!(
            "a whole number of {} from {} to {}",
            unit.name(),
            range.start(),
            range.end()
        );
        let count = self.parse(name, default, &expected)?;
        if !range.contains(&count) {
            return Err(invalid(name, &count.to_string(), &expected));
        }
        // Every range below keeps `count * unit` far from u64::MAX seconds.
        Ok(Duration::from_secs(count.saturating_mul(unit.seconds())))
    }

    fn flag(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        match self.raw(name).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("true" | "1" | "yes" | "on") => Ok(true),
            Some("false" | "0" | "no" | "off") => Ok(false),
            Some(other) => Err(invalid(name, other, "true or false")),
        }
    }

    fn list(&self, name: &str, default: &str) -> Result<Vec<String>, ConfigError> {
        let raw = self.raw(name).unwrap_or(default);
        if raw.starts_with('[') {
            let items: Vec<String> = serde_json::from_str(raw).map_err(|_| {
                invalid(
                    name,
                    raw,
                    "a JSON array of strings or a comma-separated list",
                )
            })?;
            return Ok(items
                .into_iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect());
        }
        Ok(raw
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect())
    }
}

/// `duration` as the domain's signed span. Every configured duration is range-checked far
/// below `time::Duration::MAX`; saturating keeps this total anyway.
#[must_use]
pub fn span(duration: Duration) -> time::Duration {
    time::Duration::try_from(duration).unwrap_or(time::Duration::MAX)
}

/// The unit a duration variable is written in (its name says which: `…_SECONDS`, `…_DAYS`).
#[derive(Debug, Clone, Copy)]
enum Unit {
    Seconds,
    Minutes,
    Hours,
    Days,
}

impl Unit {
    fn seconds(self) -> u64 {
        match self {
            Unit::Seconds => 1,
            Unit::Minutes => 60,
            Unit::Hours => 3_600,
            Unit::Days => 86_400,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Unit::Seconds => "seconds",
            Unit::Minutes => "minutes",
            Unit::Hours => "hours",
            Unit::Days => "days",
        }
    }
}

fn invalid(variable: &str, value: &str, expected: &str) -> ConfigError {
    ConfigError {
        variable: variable.to_owned(),
        value: value.to_owned(),
        expected: expected.to_owned(),
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn database_url(env: &Env) -> Result<String, ConfigError> {
    if let Some(url) = env.raw("DATABASE_URL") {
        if !(url.starts_with("postgres://")
            || url.starts_with("postgresql://")
            || url.starts_with("sqlite:"))
        {
            return Err(invalid(
                "DATABASE_URL",
                "<redacted>",
                "a postgres://… or sqlite://… URL",
            ));
        }
        return Ok(url.to_owned());
    }
    let Some(host) = env.raw("DATABASE_HOSTNAME") else {
        return Ok("sqlite://keel.db?mode=rwc".to_owned());
    };
    let port: u16 = env.parse("DATABASE_PORT", 5432, "a port number (1-65535)")?;
    let user = env.string("DATABASE_USERNAME", "postgres");
    let password = env.string("DATABASE_PASSWORD", "");
    let name = env.string("DATABASE_NAME", "postgres");
    let encode = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    let credentials = if password.is_empty() {
        encode(&user)
    } else {
        format!("{}:{}", encode(&user), encode(&password))
    };
    Ok(format!(
        "postgres://{credentials}@{host}:{port}/{}",
        encode(&name)
    ))
}

fn policy(env: &Env, name: &str, limit: u32) -> Result<RateLimitPolicy, ConfigError> {
    Ok(RateLimitPolicy {
        limit: env.within(
            &format!("RATE_LIMIT_{name}_LIMIT"),
            limit,
            1..=1_000_000_000,
        )?,
        window: env.duration(
            &format!("RATE_LIMIT_{name}_WINDOW_SECONDS"),
            Unit::Seconds,
            60,
            1..=86_400,
        )?,
    })
}

fn environment(env: &Env) -> Result<Environment, ConfigError> {
    match env
        .string("ENVIRONMENT", "development")
        .to_ascii_lowercase()
        .as_str()
    {
        "development" | "dev" => Ok(Environment::Development),
        "test" => Ok(Environment::Test),
        "production" | "prod" => Ok(Environment::Production),
        other => Err(invalid(
            "ENVIRONMENT",
            other,
            "development, test or production",
        )),
    }
}

fn api_versions(env: &Env) -> Result<ApiVersions, ConfigError> {
    let latest = env.string("API_LATEST_VERSION", "v1");
    let supported = env.list("API_SUPPORTED_VERSIONS", "v1")?;
    let version_ok =
        |v: &str| v.len() > 1 && v.starts_with('v') && v[1..].bytes().all(|b| b.is_ascii_digit());
    if let Some(bad) = supported.iter().find(|v| !version_ok(v)) {
        return Err(invalid(
            "API_SUPPORTED_VERSIONS",
            bad,
            "versions such as v1, v2",
        ));
    }
    if !supported.contains(&latest) {
        return Err(invalid(
            "API_LATEST_VERSION",
            &latest,
            &format!("one of API_SUPPORTED_VERSIONS ({})", supported.join(", ")),
        ));
    }
    Ok(ApiVersions { latest, supported })
}

fn redis_url(env: &Env) -> Result<Option<SecretString>, ConfigError> {
    let Some(url) = env.optional("REDIS_URL") else {
        return Ok(None);
    };
    if !(url.starts_with("redis://")
        || url.starts_with("rediss://")
        || url.starts_with("unix://")
        || url.starts_with("redis+unix://"))
    {
        return Err(invalid(
            "REDIS_URL",
            "<redacted>",
            "a redis://, rediss:// or unix:// URL",
        ));
    }
    Ok(Some(SecretString::from(url)))
}

impl DatabaseConfig {
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let max_connections = match env.raw("DATABASE_MAX_CONNECTIONS") {
            None => None,
            Some(_) => Some(env.within("DATABASE_MAX_CONNECTIONS", 1, 1..=1_000)?),
        };
        Ok(Self {
            url: SecretString::from(database_url(env)?),
            max_connections,
            migrate_on_start: env.flag("DATABASE_MIGRATE_ON_START", true)?,
        })
    }
}

impl AuthConfig {
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let secret = env.optional("SECRET_KEY");
        Ok(Self {
            secret_key_is_default: secret.is_none(),
            secret_key: SecretString::from(secret.unwrap_or_else(|| DEV_SECRET_KEY.to_owned())),
            algorithm: env.parse("ALGORITHM", JwtAlgorithm::HS256, "HS256, HS384 or HS512")?,
            issuer: env.string("TOKEN_ISSUER", "keel"),
            audience: env.string("TOKEN_AUDIENCE", "keel-api"),
            // At most a week.
            access_token_expire: env.duration(
                "ACCESS_TOKEN_EXPIRE_MINUTES",
                Unit::Minutes,
                60,
                1..=10_080,
            )?,
            // At most ten years.
            refresh_token_expire: env.duration(
                "REFRESH_TOKEN_EXPIRE_DAYS",
                Unit::Days,
                30,
                1..=3_650,
            )?,
            refresh_token_reuse_grace: env.duration(
                "REFRESH_TOKEN_REUSE_GRACE_SECONDS",
                Unit::Seconds,
                10,
                0..=3_600,
            )?,
            session_max_age: env.duration("SESSION_MAX_AGE_DAYS", Unit::Days, 30, 1..=3_650)?,
            // Mailed tokens: verification up to 30 days, reset from 5 minutes to a day.
            email_verify_expire: env.duration(
                "EMAIL_VERIFY_EXPIRE_HOURS",
                Unit::Hours,
                48,
                1..=720,
            )?,
            password_reset_expire: env.duration(
                "PASSWORD_RESET_EXPIRE_MINUTES",
                Unit::Minutes,
                30,
                5..=1_440,
            )?,
        })
    }
}

impl Features {
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            rate_limiting: env.flag("ENABLE_OPTIONAL_RATE_LIMITING", true)?,
            observability: env.flag("ENABLE_OPTIONAL_OBSERVABILITY", true)?,
            background_jobs: env.flag("ENABLE_OPTIONAL_BACKGROUND_JOBS", true)?,
            frontend: env.flag("ENABLE_OPTIONAL_FRONTEND", true)?,
        })
    }
}

impl RateLimitConfig {
    fn from_env(env: &Env, production: bool) -> Result<Self, ConfigError> {
        Ok(Self {
            enabled: env.flag("RATE_LIMIT_ENABLED", true)?,
            fail_open: env.flag("RATE_LIMIT_FAIL_OPEN", !production)?,
            login: policy(env, "LOGIN", 10)?,
            register: policy(env, "REGISTER", 5)?,
            read: policy(env, "READ", 120)?,
            write: policy(env, "WRITE", 60)?,
            key_prefix: env.string("RATE_LIMIT_KEY_PREFIX", ""),
        })
    }
}

impl ObservabilityConfig {
    fn from_env(env: &Env, environment: Environment) -> Result<Self, ConfigError> {
        let log_format = match env
            .raw("LOG_FORMAT")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None => {
                if environment == Environment::Development
                    && std::io::IsTerminal::is_terminal(&std::io::stdout())
                {
                    LogFormat::Pretty
                } else {
                    LogFormat::Json
                }
            }
            Some("json") => LogFormat::Json,
            Some("pretty") => LogFormat::Pretty,
            Some(other) => return Err(invalid("LOG_FORMAT", other, "json or pretty")),
        };
        let sample_rate: f32 = env.parse(
            "SENTRY_TRACES_SAMPLE_RATE",
            0.0,
            "a number between 0.0 and 1.0",
        )?;
        if !(0.0..=1.0).contains(&sample_rate) {
            return Err(invalid(
                "SENTRY_TRACES_SAMPLE_RATE",
                &sample_rate.to_string(),
                "a number between 0.0 and 1.0",
            ));
        }
        Ok(Self {
            metrics_enabled: env.flag("METRICS_ENABLED", true)?,
            otlp_endpoint: env.optional("OTEL_EXPORTER_OTLP_ENDPOINT"),
            service_name: env.optional("OTEL_SERVICE_NAME"),
            sentry_dsn: env.optional("SENTRY_DSN").map(SecretString::from),
            sentry_environment: env.string("SENTRY_ENVIRONMENT", "development"),
            sentry_traces_sample_rate: sample_rate,
            log_format,
            log_filter: env.string("RUST_LOG", "info"),
        })
    }
}

impl OutboxConfig {
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let sinks = env
            .list("OUTBOX_SINKS", "log")?
            .iter()
            .map(|s| match s.to_ascii_lowercase().as_str() {
                "log" => Ok(OutboxSink::Log),
                "redis" => Ok(OutboxSink::Redis),
                "webhook" => Ok(OutboxSink::Webhook),
                other => Err(invalid(
                    "OUTBOX_SINKS",
                    other,
                    "a comma list of log, redis, webhook",
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            batch_size: env.within("OUTBOX_DISPATCH_BATCH_SIZE", 100, 1..=10_000)?,
            retry_max_attempts: env.within("OUTBOX_RETRY_MAX_ATTEMPTS", 5, 1..=1_000)?,
            retry_backoff: env.duration(
                "OUTBOX_RETRY_BACKOFF_SECONDS",
                Unit::Seconds,
                30,
                1..=86_400,
            )?,
            dispatch_interval: env.duration(
                "OUTBOX_DISPATCH_INTERVAL_SECONDS",
                Unit::Seconds,
                15,
                1..=3_600,
            )?,
            sinks,
            redis_stream: env.string("OUTBOX_REDIS_STREAM", "keel:events"),
            webhook_url: env.optional("OUTBOX_WEBHOOK_URL"),
            webhook_secret: env
                .optional("OUTBOX_WEBHOOK_SECRET")
                .map(SecretString::from),
            webhook_timeout: env.duration(
                "OUTBOX_WEBHOOK_TIMEOUT_SECONDS",
                Unit::Seconds,
                10,
                1..=300,
            )?,
            lease: env.duration("OUTBOX_LEASE_SECONDS", Unit::Seconds, 60, 1..=86_400)?,
            smtp_url: match env.optional("SMTP_URL") {
                Some(url) if !(url.starts_with("smtp://") || url.starts_with("smtps://")) => {
                    return Err(invalid(
                        "SMTP_URL",
                        "(hidden)",
                        "an smtp://host:port or smtps://user:password@host:465 URL",
                    ));
                }
                url => url.map(SecretString::from),
            },
            email_from: env.string("EMAIL_FROM", "keel <no-reply@localhost>"),
            worker_host: env.string("WORKER_HOST", "127.0.0.1"),
            worker_port: env.parse("WORKER_PORT", 9000, "a port number (0-65535)")?,
        })
    }
}

impl OAuthConfig {
    fn from_env(env: &Env, production: bool) -> Result<Self, ConfigError> {
        let frontend_callback_url = env.string("OAUTH_FRONTEND_CALLBACK_URL", "/");
        let callback_ok = (frontend_callback_url.starts_with('/')
            && !frontend_callback_url.starts_with("//"))
            || frontend_callback_url.starts_with("http://")
            || frontend_callback_url.starts_with("https://");
        if !callback_ok || frontend_callback_url.contains('#') {
            return Err(invalid(
                "OAUTH_FRONTEND_CALLBACK_URL",
                &frontend_callback_url,
                "an absolute path or http(s) URL without a fragment",
            ));
        }
        let public_base_url = env.optional("OAUTH_PUBLIC_BASE_URL");
        if let Some(url) = &public_base_url {
            let authority = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"))
                .unwrap_or("")
                .trim_end_matches('/');
            if authority.is_empty() || authority.contains(['/', '?', '#', ' ']) {
                return Err(invalid(
                    "OAUTH_PUBLIC_BASE_URL",
                    url,
                    "an origin such as https://api.example.com (scheme and host, no path)",
                ));
            }
        }
        Ok(Self {
            state_expire: env.duration(
                "OAUTH_STATE_EXPIRE_SECONDS",
                Unit::Seconds,
                300,
                1..=3_600,
            )?,
            public_base_url,
            frontend_callback_url,
            http_timeout: env.duration("OAUTH_HTTP_TIMEOUT_SECONDS", Unit::Seconds, 10, 1..=300)?,
            providers: oauth_providers(env, production)?,
        })
    }
}

impl HttpEdgeConfig {
    fn from_env(env: &Env, production: bool) -> Result<Self, ConfigError> {
        let mut trusted_hosts = env.list("TRUSTED_HOSTS", "localhost,127.0.0.1")?;
        if env.raw("TRUSTED_HOSTS").is_none() && !production {
            trusted_hosts.push("*".to_owned());
        }
        let cors_origins = env.list(
            "CORS_ORIGINS",
            "http://localhost:3000,http://127.0.0.1:3000,http://localhost:8000,http://127.0.0.1:8000",
        )?;
        if let Err(keel_http::cors::InvalidOrigin(entry)) =
            keel_http::cors::CorsSettings::new(&cors_origins)
        {
            return Err(invalid(
                "CORS_ORIGINS",
                &entry,
                "a comma list of origins (http://localhost:3000, https://app.example.com) or *",
            ));
        }
        let trusted_proxies = env.list("TRUSTED_PROXIES", "127.0.0.1/32,::1/128")?;
        if let Err(keel_http::client_addr::InvalidProxy(entry)) =
            keel_http::client_addr::ProxyTrust::new(true, &trusted_proxies)
        {
            return Err(invalid(
                "TRUSTED_PROXIES",
                &entry,
                "a comma list of CIDRs or addresses (10.0.0.0/8, 192.0.2.1, fd00::/8)",
            ));
        }
        Ok(Self {
            cors_origins,
            trust_proxy_headers: env.flag("TRUST_PROXY_HEADERS", false)?,
            trusted_proxies,
            trusted_hosts,
            security_headers_enabled: env.flag("SECURITY_HEADERS_ENABLED", true)?,
            csp_enabled: env.flag("SECURITY_CSP_ENABLED", true)?,
            hsts_enabled: env.flag("SECURITY_HSTS_ENABLED", false)?,
            // At most two years.
            hsts_max_age: env.duration(
                "SECURITY_HSTS_MAX_AGE_SECONDS",
                Unit::Seconds,
                31_536_000,
                1..=63_072_000,
            )?,
            https_redirect: env.flag("SECURITY_HTTPS_REDIRECT", false)?,
            // At most 100 MiB.
            max_body_bytes: env.within("MAX_BODY_BYTES", 262_144, 1..=104_857_600)?,
            // At least a second, at most an hour.
            request_body_timeout: env.duration(
                "REQUEST_BODY_TIMEOUT_SECONDS",
                Unit::Seconds,
                30,
                1..=3_600,
            )?,
        })
    }
}

impl Config {
    /// Reads the configuration from `.env` and the process environment.
    ///
    /// # Errors
    /// The first unusable variable.
    pub fn load() -> Result<Self, ConfigError> {
        Self::from_env(&Env::load()?)
    }

    /// Reads the configuration from `env`: each section parses its own variables.
    ///
    /// # Errors
    /// The first unusable variable, or a production setting that is too weak.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let environment = environment(env)?;
        let production = environment == Environment::Production;
        let config = Self {
            host: env.string("HOST", "127.0.0.1"),
            port: env.parse("PORT", 8000, "a port number (0-65535)")?,
            environment,
            database: DatabaseConfig::from_env(env)?,
            auth: AuthConfig::from_env(env)?,
            api_versions: api_versions(env)?,
            features: Features::from_env(env)?,
            redis_url: redis_url(env)?,
            redis_health_required: env.flag("REDIS_HEALTH_REQUIRED", false)?,
            rate_limit: RateLimitConfig::from_env(env, production)?,
            observability: ObservabilityConfig::from_env(env, environment)?,
            outbox: OutboxConfig::from_env(env)?,
            oauth: OAuthConfig::from_env(env, production)?,
            http: HttpEdgeConfig::from_env(env, production)?,
        };
        if production {
            config.refuse_weak_production_settings(env)?;
        }
        Ok(config)
    }

    fn refuse_weak_production_settings(&self, env: &Env) -> Result<(), ConfigError> {
        let secret = self.auth.secret_key.expose_secret();
        if self.auth.secret_key_is_default
            || secret.chars().count() < 32
            || KNOWN_DEFAULT_SECRETS.contains(&secret)
        {
            return Err(invalid(
                "SECRET_KEY",
                "<redacted>",
                "at least 32 characters, not a known default, in production",
            ));
        }
        if self.http.trusted_hosts.iter().any(|h| h == "*") {
            return Err(invalid(
                "TRUSTED_HOSTS",
                "*",
                "explicit host names in production",
            ));
        }
        if self.rate_limit.fail_open && !env.flag("RATE_LIMIT_FAIL_OPEN_FORCE", false)? {
            return Err(invalid(
                "RATE_LIMIT_FAIL_OPEN",
                "true",
                "false in production (set RATE_LIMIT_FAIL_OPEN_FORCE=true to insist)",
            ));
        }
        Ok(())
    }

    /// Whether the database URL is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.database.url.expose_secret().starts_with("postgres")
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
