//! Wiring of the `worker` process: the outbox relay loop, its wake-ups, its operational HTTP
//! listener (`/health`, `/ready`, `/metrics` on `WORKER_HOST:WORKER_PORT`), graceful shutdown,
//! and the operator subcommands `requeue-failed` and `purge`.
//!
//! The loop: run a batch ([`RelayOutbox::run_batch`]); if it was full, run the next one at once
//! (no pause while a backlog remains); otherwise wait for a PostgreSQL notification (an
//! `outbox_events` insert committed), the fallback poll interval
//! (`OUTBOX_DISPATCH_INTERVAL_SECONDS`), or shutdown — whichever comes first. SQLite has no
//! notifications: it polls.
//!
//! Shutdown (SIGTERM or Ctrl-C): `/ready` turns 503, the relay finishes the delivery in flight,
//! releases the rest of its batch and records what it delivered, then the process exits 0. The
//! wait is bounded by [`shutdown_grace`]; a relay still busy after it (a store that does not
//! answer) is abandoned, and its events return when their lease expires.

use crate::api::SystemClock;
use crate::config::{Config, OutboxSink};
use anyhow::Context;
use keel_application::outbox::{
    PurgeCompleted, RelayOutbox, RelayReport, RelaySettings, RequeueFailed,
};
use keel_domain::outbox::{LeasePolicy, RetryPolicy, WorkerId};
use keel_persistence::{OutboxListener, SeaOutbox, Wake};
use keel_ports::{Clock, ErrorChain, EventSink, Outbox};
use keel_telemetry::{DeliveryResult, LogSink, Metrics, OutboxMetrics};
use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// How often the backlog gauges are refreshed from the database.
const BACKLOG_REFRESH: Duration = Duration::from_secs(5);
/// The longest a Redis stream append may take (the pool's own bound is 1 s).
const REDIS_DELIVERY_BUDGET: Duration = Duration::from_secs(2);
/// Pause after a failed claim (database down), so the loop does not spin.
const CLAIM_RETRY_PAUSE: Duration = Duration::from_secs(1);

/// The stop signal shared by the loop, the relay and `/ready`.
#[derive(Clone)]
struct Stop {
    flag: Arc<AtomicBool>,
    changed: watch::Sender<bool>,
}

impl Stop {
    fn new() -> Self {
        Self {
            flag: Arc::new(AtomicBool::new(false)),
            changed: watch::Sender::new(false),
        }
    }

    fn request(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.changed.send_replace(true);
    }

    fn requested(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Resolves once a stop is requested (at once if it already was).
    async fn wait(&self) {
        let mut receiver = self.changed.subscribe();
        // Only fails when the sender is gone, which `self` prevents.
        let _ = receiver.wait_for(|stopped| *stopped).await;
    }

    /// Sleeps for `duration` unless a stop comes first.
    async fn sleep(&self, duration: Duration) {
        tokio::select! {
            () = tokio::time::sleep(duration) => {}
            () = self.wait() => {}
        }
    }
}

/// How long one delivery may take at most: the sum of the configured sinks' timeouts, plus a
/// second of slack for the store.
#[must_use]
pub fn delivery_budget(config: &Config) -> Duration {
    let outbox = &config.outbox;
    let sinks: Duration = outbox
        .sinks
        .iter()
        .map(|sink| match sink {
            OutboxSink::Log => Duration::ZERO,
            OutboxSink::Redis => REDIS_DELIVERY_BUDGET,
            OutboxSink::Webhook => outbox.webhook_timeout,
        })
        .sum();
    // A mail event goes to the SMTP sink alone, a public event to the others.
    let mail = if outbox.smtp_url.is_some() {
        SMTP_TIMEOUT
    } else {
        Duration::ZERO
    };
    sinks.max(mail) + Duration::from_secs(1)
}

/// Bound of one SMTP conversation (connect, TLS, EHLO, AUTH, MAIL, RCPT, DATA, QUIT).
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// The mail sink when `SMTP_URL` is set: links in the mails start with
/// `OAUTH_PUBLIC_BASE_URL` (the public origin serving the GUI), else `http://HOST:PORT`.
///
/// # Errors
/// An unusable `SMTP_URL` or `EMAIL_FROM`.
pub fn mail_sink(config: &Config) -> anyhow::Result<Option<Arc<dyn EventSink>>> {
    let Some(url) = &config.outbox.smtp_url else {
        return Ok(None);
    };
    let link_base = config
        .oauth
        .public_base_url
        .clone()
        .unwrap_or_else(|| format!("http://{}:{}", config.host, config.port));
    let sink = keel_mail::SmtpMailSink::new(&keel_mail::MailSettings {
        smtp_url: url.expose_secret().to_owned(),
        from: config.outbox.email_from.clone(),
        link_base,
        timeout: SMTP_TIMEOUT,
    })
    .context("invalid configuration: SMTP_URL / EMAIL_FROM")?;
    Ok(Some(Arc::new(sink)))
}

/// How long shutdown waits for the relay: the delivery in flight plus recording the batch.
#[must_use]
pub fn shutdown_grace(config: &Config) -> Duration {
    delivery_budget(config) + Duration::from_secs(10)
}

/// The relay's settings from the configuration.
///
/// # Errors
/// When the retry or lease settings contradict each other (the message names the variable).
pub fn relay_settings(config: &Config) -> anyhow::Result<RelaySettings> {
    let outbox = &config.outbox;
    let retry = RetryPolicy::new(
        outbox.retry_max_attempts,
        crate::config::span(outbox.retry_backoff),
    )
    .context("OUTBOX_RETRY_MAX_ATTEMPTS / OUTBOX_RETRY_BACKOFF_SECONDS")?;
    let budget = crate::config::span(delivery_budget(config));
    let lease = LeasePolicy::new(
        crate::config::span(outbox.lease),
        budget,
    )
    .with_context(|| {
        format!(
            "invalid configuration: OUTBOX_LEASE_SECONDS={} must exceed the longest delivery ({} s: the sinks' timeouts plus 1 s)",
            outbox.lease.as_secs(),
            budget.whole_seconds()
        )
    })?;
    Ok(RelaySettings {
        batch_size: outbox.batch_size,
        retry,
        lease,
    })
}

/// The configured sinks, in `OUTBOX_SINKS` order.
///
/// # Errors
/// When a sink lacks its settings (`OUTBOX_WEBHOOK_URL`/`_SECRET` for `webhook`, `REDIS_URL`
/// for `redis`) or they are unusable.
pub fn sinks(config: &Config) -> anyhow::Result<Vec<Arc<dyn EventSink>>> {
    let outbox = &config.outbox;
    let mut sinks: Vec<Arc<dyn EventSink>> = Vec::new();
    for sink in &outbox.sinks {
        match sink {
            OutboxSink::Log => sinks.push(Arc::new(LogSink)),
            OutboxSink::Redis => {
                let url = config.redis_url.as_ref().context(
                    "invalid configuration: REDIS_URL must be set when OUTBOX_SINKS includes redis",
                )?;
                let pool = keel_redis::connect(url.expose_secret())
                    .context("invalid configuration: REDIS_URL")?;
                sinks.push(Arc::new(keel_redis::stream::RedisStreamSink::new(
                    pool,
                    outbox.redis_stream.clone(),
                    keel_redis::stream::DEFAULT_MAX_LEN,
                )));
            }
            OutboxSink::Webhook => {
                let url = outbox.webhook_url.as_deref().context(
                    "invalid configuration: OUTBOX_WEBHOOK_URL must be set when OUTBOX_SINKS includes webhook",
                )?;
                let secret = outbox.webhook_secret.as_ref().context(
                    "invalid configuration: OUTBOX_WEBHOOK_SECRET must be set when OUTBOX_SINKS includes webhook",
                )?;
                let sink = keel_webhook::WebhookSink::new(
                    url,
                    secret.expose_secret().as_bytes(),
                    outbox.webhook_timeout,
                )
                .context("invalid configuration: OUTBOX_WEBHOOK_URL / OUTBOX_WEBHOOK_SECRET")?
                .with_trace_headers(Arc::new(keel_telemetry::traces::outbound_headers));
                sinks.push(Arc::new(sink));
            }
        }
    }
    Ok(sinks)
}

/// A unique name for this process among the replicas: the host (the pod name on Kubernetes),
/// the process id and a random suffix (a restarted pod reuses its name and maybe its pid).
fn worker_id() -> anyhow::Result<WorkerId> {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".to_owned());
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let host: String = host.chars().take(200).collect();
    WorkerId::parse(&format!("{host}-{}-{}", std::process::id(), &suffix[..8]))
        .context("building the worker id")
}

/// A running worker.
pub struct RunningWorker {
    /// The operational listener's address (useful with `WORKER_PORT=0`).
    pub addr: SocketAddr,
    /// This worker's name (`locked_by`).
    pub worker: WorkerId,
    stop: Stop,
    relay: tokio::task::JoinHandle<()>,
    backlog: tokio::task::JoinHandle<()>,
    server: actix_web::dev::ServerHandle,
    server_task: tokio::task::JoinHandle<std::io::Result<()>>,
    grace: Duration,
}

impl RunningWorker {
    /// Marks shutdown as begun (as SIGTERM does): `/ready` turns 503 at once.
    pub fn begin_shutdown(&self) {
        self.stop.request();
    }

    /// Stops the worker: `/ready` turns 503, the relay finishes or releases its batch (within
    /// the grace period), and the listener closes.
    pub async fn stop(self) {
        self.stop.request();
        tracing::info!(worker = %self.worker, "shutdown requested: finishing the batch in flight");
        match tokio::time::timeout(self.grace, self.relay).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(%error, "the relay task failed"),
            Err(_elapsed) => tracing::error!(
                grace_seconds = self.grace.as_secs(),
                "the relay did not stop in time; its events return when their lease expires"
            ),
        }
        self.backlog.abort();
        self.server.stop(true).await;
        if let Ok(Err(error)) = self.server_task.await {
            tracing::warn!(%error, "the operational listener failed");
        }
        tracing::info!(worker = %self.worker, "worker stopped");
    }
}

/// Starts the relay and the operational listener; returns once the listener is bound.
///
/// # Errors
/// Unusable configuration (sinks, lease) or an address that cannot be bound.
pub async fn start(config: &Config) -> anyhow::Result<RunningWorker> {
    keel_webhook::install_crypto_provider();
    let settings = relay_settings(config)?;
    let sinks = sinks(config)?;
    let db = crate::api::connect_database(config).await?;
    let outbox: Arc<dyn Outbox> = Arc::new(SeaOutbox::new(db.clone()));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let worker = worker_id()?;
    let metrics = Metrics::with_process_metrics().context("registering metrics")?;
    let outbox_metrics = OutboxMetrics::register(&metrics).context("registering metrics")?;
    let stop = Stop::new();

    let mut relay = RelayOutbox::new(
        outbox.clone(),
        sinks,
        clock.clone(),
        worker.clone(),
        settings,
    );
    if let Some(mail) = mail_sink(config)? {
        relay = relay.with_mail_sink(mail);
    }
    let relay = if config.features.background_jobs {
        tokio::spawn(relay_loop(
            relay,
            config.database.url.expose_secret().to_owned(),
            config.outbox.dispatch_interval,
            outbox_metrics.clone(),
            stop.clone(),
        ))
    } else {
        tracing::warn!("ENABLE_OPTIONAL_BACKGROUND_JOBS=false: the worker delivers nothing");
        tokio::spawn(async {})
    };
    let backlog = tokio::spawn(backlog_loop(outbox, clock, outbox_metrics, stop.clone()));

    let state = OpsState {
        db,
        stop: stop.clone(),
        metrics: (config.features.observability && config.observability.metrics_enabled)
            .then_some(metrics),
    };
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(actix_web::web::Data::new(state.clone()))
            .route("/health", actix_web::web::get().to(health))
            .route("/ready", actix_web::web::get().to(ready))
            .route("/metrics", actix_web::web::get().to(metrics_text))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(5)
    .bind((
        config.outbox.worker_host.as_str(),
        config.outbox.worker_port,
    ))
    .with_context(|| {
        format!(
            "binding WORKER_HOST:WORKER_PORT {}:{}",
            config.outbox.worker_host, config.outbox.worker_port
        )
    })?;
    let addr = server
        .addrs()
        .first()
        .copied()
        .context("the listener bound no address")?;
    let server = server.run();
    let handle = server.handle();
    let server_task = tokio::spawn(server);
    tracing::info!(%addr, worker = %worker, sinks = ?config.outbox.sinks, "worker started");
    Ok(RunningWorker {
        addr,
        worker,
        stop,
        relay,
        backlog,
        server: handle,
        server_task,
        grace: shutdown_grace(config),
    })
}

/// `worker run`: relays until SIGTERM or Ctrl-C, then stops cleanly (exit 0).
///
/// # Errors
/// Start-up failures.
pub async fn run(config: &Config) -> anyhow::Result<()> {
    let running = start(config).await?;
    crate::api::wait_for_signal().await;
    running.stop().await;
    Ok(())
}

/// The relay loop (see the module docs).
async fn relay_loop(
    relay: RelayOutbox,
    database_url: String,
    interval: Duration,
    metrics: OutboxMetrics,
    stop: Stop,
) {
    let batch_size = relay.settings().batch_size;
    let mut listener = connect_listener(&database_url).await;
    while !stop.requested() {
        match relay.run_batch(&stop.flag).await {
            Ok(report) => {
                record(&metrics, &report);
                if report.was_full(batch_size) {
                    continue;
                }
            }
            Err(error) => {
                tracing::warn!(worker = %relay.worker(), error = %ErrorChain(&error), "outbox batch failed");
                stop.sleep(CLAIM_RETRY_PAUSE).await;
                continue;
            }
        }
        if listener.is_none() {
            listener = connect_listener(&database_url).await;
        }
        match listener.as_mut() {
            Some(listening) => {
                tokio::select! {
                    wake = listening.wait(interval) => {
                        if wake == Wake::ConnectionLost {
                            tracing::debug!("outbox notification connection lost; it reconnects on the next wait");
                        }
                    }
                    () = stop.wait() => {}
                }
            }
            None => stop.sleep(interval).await,
        }
    }
    tracing::info!(worker = %relay.worker(), "outbox relay stopped");
}

async fn connect_listener(database_url: &str) -> Option<OutboxListener> {
    match OutboxListener::connect(database_url).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::warn!(error = %ErrorChain(&error), "cannot listen for outbox notifications yet; polling");
            None
        }
    }
}

fn record(metrics: &OutboxMetrics, report: &RelayReport) {
    let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    metrics.count_deliveries(DeliveryResult::Delivered, count(report.delivered));
    metrics.count_deliveries(DeliveryResult::RetryScheduled, count(report.retried));
    metrics.count_deliveries(DeliveryResult::DeadLettered, count(report.dead_lettered));
    metrics.count_deliveries(DeliveryResult::Released, count(report.released));
    for sink in &report.sink_failures {
        metrics.count_sink_failure(sink);
    }
    for lag in &report.lags {
        metrics.observe_lag(lag.as_seconds_f64());
    }
}

/// Refreshes the backlog gauges every [`BACKLOG_REFRESH`].
async fn backlog_loop(
    outbox: Arc<dyn Outbox>,
    clock: Arc<dyn Clock>,
    metrics: OutboxMetrics,
    stop: Stop,
) {
    while !stop.requested() {
        match outbox.stats().await {
            Ok(stats) => {
                let age = stats
                    .oldest_pending
                    .map_or(0.0, |oldest| clock.now().since(oldest).as_seconds_f64());
                metrics.set_backlog(stats.pending, stats.processing, stats.failed, age);
            }
            Err(error) => {
                tracing::debug!(error = %ErrorChain(&error), "reading the outbox backlog failed");
            }
        }
        stop.sleep(BACKLOG_REFRESH).await;
    }
}

#[derive(Clone)]
struct OpsState {
    db: DatabaseConnection,
    stop: Stop,
    metrics: Option<Metrics>,
}

async fn health() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// 200 while the database answers and no shutdown has begun; 503 otherwise.
async fn ready(state: actix_web::web::Data<OpsState>) -> actix_web::HttpResponse {
    let database = !state.stop.requested()
        && tokio::time::timeout(Duration::from_secs(2), keel_persistence::ping(&state.db))
            .await
            .unwrap_or(false);
    let checks = serde_json::json!({ "database": database });
    if database {
        actix_web::HttpResponse::Ok().json(serde_json::json!({ "status": "ok", "checks": checks }))
    } else {
        actix_web::HttpResponse::ServiceUnavailable()
            .content_type("application/problem+json")
            .json(serde_json::json!({
                "type": "about:blank",
                "title": "Service Unavailable",
                "status": 503,
                "detail": "Service dependencies are not ready",
                "instance": "/ready",
                "error_code": "service_not_ready",
                "checks": checks,
            }))
    }
}

async fn metrics_text(state: actix_web::web::Data<OpsState>) -> actix_web::HttpResponse {
    let Some(metrics) = &state.metrics else {
        return actix_web::HttpResponse::NotFound().finish();
    };
    match metrics.render() {
        Ok(text) => actix_web::HttpResponse::Ok()
            .content_type(Metrics::content_type())
            .body(text),
        Err(error) => {
            tracing::error!(%error, "rendering metrics failed");
            actix_web::HttpResponse::InternalServerError().finish()
        }
    }
}

/// `worker requeue-failed [--topic T]`: makes dead letters pending again; returns how many.
///
/// # Errors
/// When the database cannot be used.
pub async fn requeue_failed(config: &Config, topic: Option<String>) -> anyhow::Result<u64> {
    let db = crate::api::connect_database(config).await?;
    let requeued = RequeueFailed::new(Arc::new(SeaOutbox::new(db)), Arc::new(SystemClock))
        .execute(topic)
        .await
        .context("requeueing failed outbox events")?;
    Ok(requeued)
}

/// `worker purge --older-than DAYS`: deletes delivered events processed more than `days` days
/// ago; returns how many.
///
/// # Errors
/// When the database cannot be used.
pub async fn purge(config: &Config, days: u32) -> anyhow::Result<u64> {
    let db = crate::api::connect_database(config).await?;
    let purged = PurgeCompleted::new(Arc::new(SeaOutbox::new(db)), Arc::new(SystemClock))
        .execute(time::Duration::days(i64::from(days)))
        .await
        .context("purging completed outbox events")?;
    Ok(purged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Env;

    fn config(pairs: &[(&str, &str)]) -> Config {
        Config::from_env(&Env::from_pairs(pairs.iter().copied())).expect("valid configuration")
    }

    #[test]
    fn the_lease_must_outlast_the_slowest_delivery() {
        let defaults = relay_settings(&config(&[])).expect("defaults are consistent");
        assert_eq!(defaults.batch_size, 100);
        assert_eq!(defaults.retry.max_attempts(), 5);
        let webhook = [
            ("OUTBOX_SINKS", "log,webhook"),
            ("OUTBOX_WEBHOOK_TIMEOUT_SECONDS", "30"),
            ("OUTBOX_LEASE_SECONDS", "31"),
        ];
        assert_eq!(delivery_budget(&config(&webhook)), Duration::from_secs(31));
        let error = relay_settings(&config(&webhook)).expect_err("lease too short");
        assert!(
            format!("{error:#}").contains("OUTBOX_LEASE_SECONDS=31"),
            "{error:#}"
        );
    }

    #[test]
    fn each_sink_needs_its_settings() {
        let error = sinks(&config(&[("OUTBOX_SINKS", "redis")]))
            .err()
            .expect("no REDIS_URL");
        assert!(format!("{error:#}").contains("REDIS_URL"));
        let error = sinks(&config(&[
            ("OUTBOX_SINKS", "webhook"),
            ("OUTBOX_WEBHOOK_URL", "https://example.com/hooks"),
        ]))
        .err()
        .expect("no secret");
        assert!(format!("{error:#}").contains("OUTBOX_WEBHOOK_SECRET"));
        let built = sinks(&config(&[
            ("OUTBOX_SINKS", "log,redis,webhook"),
            ("REDIS_URL", "redis://127.0.0.1:6379"),
            ("OUTBOX_WEBHOOK_URL", "https://example.com/hooks"),
            ("OUTBOX_WEBHOOK_SECRET", "s3cret"),
        ]))
        .expect("all three");
        let names: Vec<&str> = built.iter().map(|sink| sink.name()).collect();
        assert_eq!(names, ["log", "redis", "webhook"]);
    }
}
