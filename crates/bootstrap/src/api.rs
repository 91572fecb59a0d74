//! Wiring of the `api` process: database, adapters, use cases, HTTP server, migrations, and
//! graceful shutdown.
//!
//! Start-up never fails because the database or Redis is unreachable: both pools connect
//! lazily, `/health` answers at once, `/ready` stays 503 until the database answers and (when
//! `DATABASE_MIGRATE_ON_START`) the pending migrations are applied. The rate limiter uses Redis
//! when `REDIS_URL` is set (applying `RATE_LIMIT_FAIL_OPEN` per request while it is down) and
//! an in-process limiter otherwise. OAuth flows in progress live in Redis when `REDIS_URL` is
//! set, else in the database; the enabled identity providers are built by `keel-oauth` from
//! the configured credentials (no network request at start-up).

use crate::config::Config;
use anyhow::Context;
use keel_application::account::{
    RequestPasswordReset, ResendVerification, ResetPassword, TokenLifetimes, VerifyEmail,
};
use keel_application::auth::{Authenticate, Login, Logout, LogoutAll, RefreshSession};
use keel_application::oauth::{
    AccountPorts, CompleteOAuth, FlowPolicy, OAuthProviders, StartOAuth,
};
use keel_application::posts::{CreatePost, DeletePost, GetPost, ListPosts, UpdatePost};
use keel_application::rate_limit::{CheckRateLimit, Quotas};
use keel_application::sessions::{ListSessions, RevokeSession};
use keel_application::users::{GetUser, RegisterUser};
use keel_application::votes::CastVote;
// @new-resource: bootstrap-imports
use keel_auth::{Argon2Hasher, JwtCodec};
use keel_domain::Timestamp;
use keel_domain::rate_limit::Quota;
use keel_domain::session::SessionPolicy;
use keel_http::client_addr::ProxyTrust;
use keel_http::cors::CorsSettings;
use keel_http::hardening::{DEFAULT_CSP, HardeningSettings, TrustedHosts};
use keel_http::{
    EdgeSettings, HttpSettings, OAuthSettings, Readiness, ReadinessReport, ShutdownFlag, UseCases,
};
use keel_persistence::{
    SeaEmailTokens, SeaOAuthAccounts, SeaOAuthFlows, SeaPosts, SeaSessions, SeaUsers, SeaVotes,
};
use keel_ports::{
    Clock, EmailTokens, IdentityProvider, OAuthAccounts, OAuthFlows, OutboxWaker, PasswordHasher,
    Posts, Random, RateLimiter, Sessions, TokenCodec, Users, Votes,
};
use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::new(time::OffsetDateTime::now_utc())
    }
}

/// The operating system's CSPRNG.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&self, dest: &mut [u8]) {
        if let Err(error) = getrandom::fill(dest) {
            // No secret may ever come from a weaker source; the OS RNG failing is not
            // recoverable (it does not happen on a working Linux kernel).
            panic!("the operating system's random number generator failed: {error}");
        }
    }
}

/// The enabled identity providers, built from the configured credentials.
///
/// # Errors
/// When a provider's settings are unusable (an Apple key that does not parse, an issuer URL
/// refused in production, …).
pub fn identity_providers(config: &Config) -> anyhow::Result<Vec<Arc<dyn IdentityProvider>>> {
    let settings: Vec<keel_oauth::ProviderSettings> = config
        .oauth
        .providers
        .iter()
        .map(|p| {
            let mut settings = keel_oauth::ProviderSettings::new(
                p.provider,
                p.client_id.clone(),
                p.client_secret.expose_secret(),
            );
            if let Some((team, key)) = &p.apple_team_and_key {
                settings.apple_team_id = Some(team.clone());
                settings.apple_key_id = Some(key.clone());
            }
            settings.issuer_url.clone_from(&p.issuer_url);
            settings.display_name.clone_from(&p.display_name);
            settings
        })
        .collect();
    let options = keel_oauth::HttpOptions {
        timeout: config.oauth.http_timeout,
        allow_insecure: config.environment != crate::config::Environment::Production,
    };
    keel_oauth::build(&settings, &options).context("configuring the OAuth providers")
}

/// Opens the database pool (lazily for PostgreSQL, so start-up does not wait for it).
///
/// # Errors
/// When the URL cannot be used at all.
pub async fn connect_database(config: &Config) -> anyhow::Result<DatabaseConnection> {
    keel_persistence::connect(
        config.database.url.expose_secret(),
        config.database.max_connections,
    )
    .await
    .context("opening the database")
}

/// Opens the Redis pool when `REDIS_URL` is set (lazily: nothing is connected yet).
///
/// # Errors
/// When `REDIS_URL` cannot be used.
pub fn connect_redis(config: &Config) -> anyhow::Result<Option<keel_redis::Pool>> {
    config
        .redis_url
        .as_ref()
        .map(|url| keel_redis::connect(url.expose_secret()))
        .transpose()
        .context("REDIS_URL")
}

fn quota(policy: crate::config::RateLimitPolicy) -> anyhow::Result<Quota> {
    Quota::new(policy.limit, policy.window.as_secs()).context("rate-limit quota")
}

/// The rate limiter, unless rate limiting is off: Redis when a pool is given, else in-process.
fn rate_limiter(
    config: &Config,
    redis: Option<&keel_redis::Pool>,
    tokens: Arc<dyn TokenCodec>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Option<CheckRateLimit>> {
    let rl = &config.rate_limit;
    if !(config.features.rate_limiting && rl.enabled) {
        return Ok(None);
    }
    let limiter: Arc<dyn RateLimiter> = match redis {
        Some(pool) => Arc::new(keel_redis::RedisRateLimiter::new(
            pool.clone(),
            rl.key_prefix.clone(),
        )),
        None => Arc::new(keel_redis::InProcessRateLimiter::default()),
    };
    let quotas = Quotas::new(
        quota(rl.login)?,
        quota(rl.register)?,
        quota(rl.read)?,
        quota(rl.write)?,
    );
    Ok(Some(CheckRateLimit::new(
        limiter,
        tokens,
        clock,
        quotas,
        rl.fail_open,
    )))
}

/// The edge settings (client address, host check, security headers, CORS) from the
/// configuration.
///
/// # Errors
/// When `TRUSTED_PROXIES` or `CORS_ORIGINS` is unusable (already refused by [`Config`]).
pub fn edge_settings(config: &Config) -> anyhow::Result<EdgeSettings> {
    let http = &config.http;
    Ok(EdgeSettings {
        proxies: ProxyTrust::new(http.trust_proxy_headers, &http.trusted_proxies)
            .context("TRUSTED_PROXIES")?,
        hardening: HardeningSettings {
            trusted_hosts: TrustedHosts::new(&http.trusted_hosts),
            headers: http.security_headers_enabled,
            csp: (http.security_headers_enabled && http.csp_enabled)
                .then(|| DEFAULT_CSP.to_owned()),
            hsts_max_age: http.hsts_enabled.then_some(http.hsts_max_age.as_secs()),
            https_redirect: http.https_redirect,
        },
        cors: CorsSettings::new(&http.cors_origins).context("CORS_ORIGINS")?,
    })
}

/// Builds every use case from the adapters; `redis` backs the rate limiter when given.
///
/// # Panics
/// On PostgreSQL, outside a tokio runtime (the outbox waker's task is spawned on it).
///
/// # Errors
/// When an adapter cannot be built from the configuration.
pub fn use_cases(
    config: &Config,
    db: &DatabaseConnection,
    redis: Option<&keel_redis::Pool>,
) -> anyhow::Result<UseCases> {
    Ok(SharedAdapters::new(config, redis)?.use_cases(db))
}

/// The adapters every server worker shares — clock, password hasher (its threads), token codec,
/// rate limiter (one budget per client, whichever worker serves it), OAuth providers and, with
/// Redis, the OAuth flow store, and the outbox waker (one per process, so wake-ups coalesce
/// across workers) — so that each worker can build its use cases on its own database pool
/// ([`SharedAdapters::use_cases`]).
#[derive(Clone)]
pub struct SharedAdapters {
    clock: Arc<dyn Clock>,
    hasher: Arc<dyn PasswordHasher>,
    tokens: Arc<dyn TokenCodec>,
    policy: SessionPolicy,
    rate_limit: Option<CheckRateLimit>,
    providers: OAuthProviders,
    /// The Redis flow store; `None`: flows live in the database.
    redis_flows: Option<Arc<dyn OAuthFlows>>,
    flow_policy: FlowPolicy,
    /// How long mailed tokens live.
    token_lifetimes: TokenLifetimes,
    /// Wakes the outbox's workers after a commit that recorded events.
    waker: Arc<dyn OutboxWaker>,
}

impl SharedAdapters {
    /// Builds the shared adapters from the configuration; `redis` backs the rate limiter and
    /// the OAuth flow store when given.
    ///
    /// # Panics
    /// On PostgreSQL, outside a tokio runtime (the outbox waker's task is spawned on it).
    ///
    /// # Errors
    /// When an adapter cannot be built from the configuration.
    pub fn new(config: &Config, redis: Option<&keel_redis::Pool>) -> anyhow::Result<Self> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let hasher: Arc<dyn PasswordHasher> =
            Arc::new(Argon2Hasher::new(None).context("building the password hasher")?);
        let auth = &config.auth;
        let tokens: Arc<dyn TokenCodec> = Arc::new(
            JwtCodec::new(
                auth.secret_key.clone(),
                auth.algorithm,
                auth.issuer.clone(),
                auth.audience.clone(),
                crate::config::span(auth.access_token_expire),
            )
            .context("building the token codec")?,
        );
        // Every value was range-checked at start (config.rs): nothing to clamp here.
        let policy = SessionPolicy {
            refresh_ttl: crate::config::span(auth.refresh_token_expire),
            reuse_grace: crate::config::span(auth.refresh_token_reuse_grace),
            max_age: crate::config::span(auth.session_max_age),
        };
        let token_lifetimes = TokenLifetimes {
            verify_email: crate::config::span(auth.email_verify_expire),
            reset_password: crate::config::span(auth.password_reset_expire),
        };
        let rate_limit = rate_limiter(config, redis, tokens.clone(), clock.clone())?;
        let providers = OAuthProviders::new(identity_providers(config)?);
        let redis_flows = redis.map(|pool| -> Arc<dyn OAuthFlows> {
            Arc::new(keel_redis::RedisOAuthFlows::new(
                pool.clone(),
                config.rate_limit.key_prefix.clone(),
            ))
        });
        let flow_policy = FlowPolicy {
            state_ttl: crate::config::span(config.oauth.state_expire),
        };
        // PostgreSQL: `NOTIFY` after the commit, at most once per interval per process, on a
        // connection of its own (`keel_persistence::PgNotifyWaker`). SQLite: workers poll.
        let waker = keel_persistence::outbox_waker(
            config.database.url.expose_secret(),
            keel_persistence::DEFAULT_WAKE_INTERVAL,
        );
        Ok(Self {
            clock,
            hasher,
            tokens,
            policy,
            rate_limit,
            providers,
            redis_flows,
            flow_policy,
            token_lifetimes,
            waker,
        })
    }

    /// Every use case, its repositories on `db`.
    #[must_use]
    pub fn use_cases(&self, db: &DatabaseConnection) -> UseCases {
        let clock = self.clock.clone();
        let hasher = self.hasher.clone();
        let tokens = self.tokens.clone();
        let policy = self.policy;
        let waker = self.waker.clone();
        let users: Arc<dyn Users> = Arc::new(SeaUsers::new(db.clone(), waker.clone()));
        let posts: Arc<dyn Posts> = Arc::new(SeaPosts::new(db.clone(), waker.clone()));
        let votes: Arc<dyn Votes> = Arc::new(SeaVotes::new(db.clone(), waker.clone()));
        let sessions: Arc<dyn Sessions> = Arc::new(SeaSessions::new(db.clone()));
        let email_tokens: Arc<dyn EmailTokens> =
            Arc::new(SeaEmailTokens::new(db.clone(), waker.clone()));
        let lifetimes = self.token_lifetimes;
        // @new-resource: bootstrap-repositories
        let flows: Arc<dyn OAuthFlows> = match &self.redis_flows {
            Some(flows) => flows.clone(),
            None => Arc::new(SeaOAuthFlows::new(db.clone())),
        };
        let oauth_accounts: Arc<dyn OAuthAccounts> = Arc::new(SeaOAuthAccounts::new(db.clone()));
        let start_oauth = StartOAuth::new(
            self.providers.clone(),
            flows.clone(),
            Arc::new(OsRandom),
            clock.clone(),
            self.flow_policy,
        );
        let complete_oauth = CompleteOAuth::new(
            self.providers.clone(),
            flows,
            AccountPorts {
                users: users.clone(),
                accounts: oauth_accounts,
                sessions: sessions.clone(),
                tokens: tokens.clone(),
                random: Arc::new(OsRandom),
            },
            clock.clone(),
            policy,
        );
        UseCases {
            start_oauth,
            complete_oauth,
            rate_limit: self.rate_limit.clone(),
            resources: vec![
                // @new-resource: bootstrap-use-cases
            ],
            authenticate: Authenticate::new(tokens.clone(), users.clone(), clock.clone()),
            register: RegisterUser::new(
                users.clone(),
                hasher.clone(),
                Arc::new(OsRandom),
                clock.clone(),
                lifetimes.verify_email,
            ),
            verify_email: VerifyEmail::new(email_tokens.clone(), clock.clone()),
            resend_verification: ResendVerification::new(
                email_tokens.clone(),
                Arc::new(OsRandom),
                clock.clone(),
                lifetimes.verify_email,
            ),
            request_password_reset: RequestPasswordReset::new(
                email_tokens.clone(),
                Arc::new(OsRandom),
                clock.clone(),
                lifetimes.reset_password,
            ),
            reset_password: ResetPassword::new(email_tokens, hasher.clone(), clock.clone()),
            get_user: GetUser::new(users.clone()),
            login: Login::new(
                users,
                hasher,
                sessions.clone(),
                tokens.clone(),
                Arc::new(OsRandom),
                clock.clone(),
                policy,
            ),
            refresh: RefreshSession::new(
                sessions.clone(),
                tokens.clone(),
                Arc::new(OsRandom),
                clock.clone(),
                policy,
            ),
            logout: Logout::new(sessions.clone(), tokens, clock.clone()),
            logout_all: LogoutAll::new(sessions.clone(), clock.clone()),
            list_sessions: ListSessions::new(sessions.clone(), clock.clone()),
            revoke_session: RevokeSession::new(sessions, clock.clone()),
            list_posts: ListPosts::new(posts.clone()),
            get_post: GetPost::new(posts.clone()),
            create_post: CreatePost::new(posts.clone(), clock.clone()),
            update_post: UpdatePost::new(posts.clone(), clock),
            delete_post: DeletePost::new(posts.clone()),
            cast_vote: CastVote::new(votes),
        }
    }
}

/// `/ready`: the database answers and start-up migrations (if any) are done; Redis answers a
/// ping (reported always, required only with `REDIS_HEALTH_REQUIRED`).
struct DependencyReadiness {
    db: DatabaseConnection,
    migrated: Arc<AtomicBool>,
    redis: Option<keel_redis::Pool>,
    redis_required: bool,
}

impl Readiness for DependencyReadiness {
    fn check(&self) -> Pin<Box<dyn Future<Output = ReadinessReport> + Send + '_>> {
        Box::pin(async move {
            let database = async {
                self.migrated.load(Ordering::SeqCst)
                    && tokio::time::timeout(
                        Duration::from_secs(2),
                        keel_persistence::ping(&self.db),
                    )
                    .await
                    .unwrap_or(false)
            };
            let redis = async {
                match &self.redis {
                    // Unset: nothing to reach, reported healthy.
                    None => true,
                    Some(pool) => match keel_redis::ping(pool).await {
                        Ok(()) => true,
                        Err(error) => {
                            tracing::warn!(%error, "readiness: Redis does not answer");
                            false
                        }
                    },
                }
            };
            let (database, redis) = tokio::join!(database, redis);
            ReadinessReport {
                database,
                redis,
                ready: database && (redis || !self.redis_required),
            }
        })
    }
}

/// Applies pending migrations, retrying until the database answers.
async fn migrate_until_done(db: DatabaseConnection, migrated: Arc<AtomicBool>) {
    let mut delay = Duration::from_millis(250);
    loop {
        match keel_persistence::migrate_up(&db).await {
            Ok(()) => {
                migrated.store(true, Ordering::SeqCst);
                tracing::info!("database migrations applied");
                return;
            }
            Err(error) => {
                tracing::warn!(error = %error, retry_in_ms = delay.as_millis() as u64, "database not ready for migrations");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// Time a client has to send a request's head.
pub const CLIENT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a client has to close its side after the response.
pub const CLIENT_DISCONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle keep-alive of a connection.
pub const KEEP_ALIVE: Duration = Duration::from_secs(75);
/// How long shutdown waits, before the drain, for the work answered requests left running.
pub const DETACHED_WORK_LIMIT: Duration = Duration::from_secs(5);

/// A running `api` server.
pub struct RunningApi {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    /// Marks shutdown so `/ready` turns 503.
    pub shutdown: ShutdownFlag,
    /// Stops the server.
    pub handle: actix_web::dev::ServerHandle,
    /// Resolves when the server has stopped.
    pub server: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Starts the server on `config.host:config.port` and returns once it listens.
///
/// # Errors
/// When the database URL is unusable or the address cannot be bound.
pub async fn start(config: &Config) -> anyhow::Result<RunningApi> {
    // One worker per core (actix-web's own default, made explicit to size the pools), each
    // with its own PostgreSQL pool: see `keel_persistence::connect_per_worker`.
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let pools = keel_persistence::connect_per_worker(
        config.database.url.expose_secret(),
        config.database.max_connections,
        workers,
    )
    .await
    .context("opening the database")?;
    let migrated = Arc::new(AtomicBool::new(!config.database.migrate_on_start));
    if config.database.migrate_on_start {
        // On a pool of its own, closed when done: its connection belongs to this runtime,
        // not to a server worker's.
        let db = if pools.len() == 1 {
            pools[0].clone()
        } else {
            keel_persistence::connect(config.database.url.expose_secret(), Some(1))
                .await
                .context("opening the database")?
        };
        tokio::spawn(migrate_until_done(db, migrated.clone()));
    }
    let redis = connect_redis(config)?;
    let shared = SharedAdapters::new(config, redis.as_ref())?;
    let observer = crate::telemetry::ApiObserver::new(
        pools.clone(),
        config.features.observability && config.observability.metrics_enabled,
    )
    .context("registering metrics")?;
    let settings = HttpSettings {
        versions: config.api_versions.clone(),
        max_body_bytes: config.http.max_body_bytes,
        request_body_timeout: config.http.request_body_timeout,
        frontend_enabled: config.features.frontend,
        edge: edge_settings(config)?,
        observer: keel_http::observe::Observer(Arc::new(observer)),
        oauth: OAuthSettings {
            public_base_url: config.oauth.public_base_url.clone(),
            frontend_callback_url: config.oauth.frontend_callback_url.clone(),
            state_ttl_seconds: config.oauth.state_expire.as_secs(),
        },
    };
    let redis_required = config.redis_health_required;
    let shutdown = ShutdownFlag::default();
    let app_shutdown = shutdown.clone();
    // The OpenAPI document is rendered here, on this thread, once: the workers' apps share it
    // (`Document::shared`), and no worker's malloc arena keeps the memory rendering used.
    keel_http::openapi::Document::shared(&config.api_versions.latest);
    // actix-web calls the factory once on each worker's thread: each takes the next pool.
    let next_worker = Arc::new(AtomicUsize::new(0));
    let server = actix_web::HttpServer::new(move || {
        let worker = next_worker.fetch_add(1, Ordering::Relaxed);
        let db = &pools[worker % pools.len()];
        let readiness: Arc<dyn Readiness> = Arc::new(DependencyReadiness {
            db: db.clone(),
            migrated: migrated.clone(),
            redis: redis.clone(),
            redis_required,
        });
        keel_http::build_app(
            shared.use_cases(db),
            settings.clone(),
            readiness,
            app_shutdown.clone(),
        )
    })
    .workers(workers)
    .disable_signals()
    .shutdown_timeout(30)
    // A client gets 10 s to send its request head (slowloris), 5 s to close after the
    // response; idle keep-alive outlasts the usual 60 s load-balancer idle timeout, so the
    // balancer, not the server, closes idle connections (no 502 on a reused, closed one).
    .client_request_timeout(CLIENT_REQUEST_TIMEOUT)
    .client_disconnect_timeout(CLIENT_DISCONNECT_TIMEOUT)
    .keep_alive(KEEP_ALIVE)
    .bind((config.host.as_str(), config.port))
    .with_context(|| format!("binding {}:{}", config.host, config.port))?;
    let addr = server
        .addrs()
        .first()
        .copied()
        .context("the server bound no address")?;
    let server = server.run();
    let handle = server.handle();
    let server = tokio::spawn(server);
    tracing::info!(%addr, environment = %config.environment, "api listening");
    Ok(RunningApi {
        addr,
        shutdown,
        handle,
        server,
    })
}

/// Runs `api serve` until SIGTERM or Ctrl-C, then drains: `/ready` turns 503 at once, the work
/// answered requests left running finishes (up to 5 s), in-flight requests finish (up to 30 s),
/// and the process exits 0.
///
/// # Errors
/// Start-up failures.
pub async fn serve(config: &Config) -> anyhow::Result<()> {
    if config.auth.secret_key_is_default {
        tracing::warn!(
            "SECRET_KEY is not set: using the development key; never do this in production"
        );
    }
    let running = start(config).await?;
    wait_for_signal().await;
    tracing::info!("shutdown requested: draining");
    running.shutdown.set();
    // Work that answered requests left running (password-reset requests) runs on the
    // server's workers: it finishes before they stop.
    if !running.shutdown.finish_detached(DETACHED_WORK_LIMIT).await {
        tracing::warn!(
            limit_s = DETACHED_WORK_LIMIT.as_secs(),
            "work left running by answered requests did not finish in time; stopping anyway"
        );
    }
    running.handle.stop(true).await;
    running
        .server
        .await
        .context("joining the server task")?
        .context("running the server")?;
    tracing::info!("api stopped");
    Ok(())
}

pub(crate) async fn wait_for_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
            Ok(term) => term,
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `api migrate <up|down|status|fresh>`: prints what it did.
///
/// # Errors
/// Unknown action or a migration failure.
pub async fn migrate(config: &Config, action: &str) -> anyhow::Result<String> {
    let db = connect_database(config).await?;
    match action {
        "up" => {
            keel_persistence::migrate_up(&db)
                .await
                .context("applying migrations")?;
            Ok("migrations applied".to_owned())
        }
        "down" => {
            keel_persistence::migrate_down(&db, Some(1))
                .await
                .context("reverting the last migration")?;
            Ok("last migration reverted".to_owned())
        }
        "fresh" => {
            keel_persistence::migrate_fresh(&db)
                .await
                .context("recreating the schema")?;
            Ok("schema dropped and migrations applied".to_owned())
        }
        "status" => {
            let status = keel_persistence::migrate_status(&db)
                .await
                .context("reading migration status")?;
            Ok(status
                .into_iter()
                .map(|(name, applied)| {
                    format!("{} {name}", if applied { "applied" } else { "pending" })
                })
                .collect::<Vec<_>>()
                .join("\n"))
        }
        other => {
            anyhow::bail!("unknown migrate action {other:?}: expected up, down, status or fresh")
        }
    }
}

/// `api openapi`: the OpenAPI document.
pub fn openapi(config: &Config) -> String {
    keel_http::openapi::Document::new(&config.api_versions.latest).json
}
