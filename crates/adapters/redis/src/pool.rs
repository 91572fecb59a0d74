//! The Redis connection pool: lazy, bounded waits, so an unreachable Redis costs a request at
//! most [`TIMEOUT`] and never blocks start-up.

use std::time::Duration;

/// A pool of multiplexed Redis connections (deadpool-redis).
pub use deadpool_redis::Pool;

/// Longest wait for a pooled connection, a new connection, or a health check of a pooled one.
pub const TIMEOUT: Duration = Duration::from_secs(1);

/// Why Redis could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    /// The URL is not a Redis URL.
    #[error("not a usable Redis URL: {0}")]
    InvalidUrl(String),
    /// No connection could be had in time.
    #[error("no Redis connection")]
    Pool(#[from] deadpool_redis::PoolError),
    /// The command failed (connection lost, server error).
    #[error("Redis command failed")]
    Command(#[from] redis::RedisError),
    /// The command took longer than [`TIMEOUT`].
    #[error("Redis did not answer within {TIMEOUT:?}")]
    Timeout,
}

/// Builds the pool for `url` (`redis://[user:password@]host[:port][/db]` or `rediss://…`)
/// without connecting: connections are made on first use and replaced when they break.
///
/// # Errors
/// [`RedisError::InvalidUrl`] when the URL cannot be used.
pub fn connect(url: &str) -> Result<Pool, RedisError> {
    // Parse first: the pool would only notice a bad URL at the first request.
    redis::Client::open(url).map_err(|e| RedisError::InvalidUrl(e.to_string()))?;
    let mut config = deadpool_redis::Config::from_url(url);
    config.pool = Some(deadpool_redis::PoolConfig {
        timeouts: deadpool_redis::Timeouts {
            wait: Some(TIMEOUT),
            create: Some(TIMEOUT),
            recycle: Some(TIMEOUT),
        },
        ..deadpool_redis::PoolConfig::default()
    });
    config
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))
        .map_err(|e| RedisError::InvalidUrl(e.to_string()))
}

/// Runs `command` on a pooled connection within [`TIMEOUT`].
pub(crate) async fn run<T, F, Fut>(pool: &Pool, command: F) -> Result<T, RedisError>
where
    F: FnOnce(deadpool_redis::Connection) -> Fut,
    Fut: Future<Output = Result<T, redis::RedisError>>,
{
    let attempt = async {
        let connection = pool.get().await?;
        Ok::<T, RedisError>(command(connection).await?)
    };
    tokio::time::timeout(TIMEOUT, attempt)
        .await
        .map_err(|_| RedisError::Timeout)?
}

/// Whether Redis answers `PING` within [`TIMEOUT`].
///
/// # Errors
/// [`RedisError`] when it does not.
pub async fn ping(pool: &Pool) -> Result<(), RedisError> {
    run(pool, |mut connection| async move {
        redis::cmd("PING")
            .query_async::<String>(&mut *connection)
            .await
            .map(|_| ())
    })
    .await
}
