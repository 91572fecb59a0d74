//! The Redis rate limiter: fixed-window counters shared by every replica.
//!
//! One Lua script increments every counter of a request (or, when one of them already holds
//! its limit, only those: a refused request is not charged to its other budgets) and sets each
//! new counter's expiry, atomically and in one round trip (EVALSHA; the script is loaded again if Redis forgot it).
//! Keys are the domain's ([`keel_domain::rate_limit::counter_key`]), behind an optional prefix
//! for deployments that share one Redis.
//!
//! Every request shares one multiplexed connection (pipelined, any number in flight) taken from
//! the pool: checking a connection out per request would cost the pool's health-check `PING`,
//! a second round trip, on every request. The connection is dropped at its first failure, so
//! the next request checks out a fresh, health-checked one — that is how a Redis that comes
//! back is picked up without a restart.

use crate::pool::{self, Pool};
use async_trait::async_trait;
use keel_domain::rate_limit::Counter;
use keel_ports::{RateLimiter, RateLimiterError};
use redis::aio::MultiplexedConnection;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

/// `KEYS[i]` is a counter, `ARGV[2i-1]` its time to live in seconds and `ARGV[2i]` its limit.
/// When some counter already holds its limit, the request is refused whatever the others say:
/// only those are incremented, and the others answer their count untouched (absent: 0, not
/// created). A counter gets its expiry with its first hit, so it never outlives its window and
/// never lives without an expiry.
const SCRIPT: &str = r"
local current = {}
local refused = false
for i, key in ipairs(KEYS) do
  current[i] = tonumber(redis.call('GET', key) or '0')
  if current[i] >= tonumber(ARGV[2 * i]) then
    refused = true
  end
end
local counts = {}
for i, key in ipairs(KEYS) do
  if refused and current[i] < tonumber(ARGV[2 * i]) then
    counts[i] = current[i]
  else
    local count = redis.call('INCR', key)
    if count == 1 then
      redis.call('EXPIRE', key, ARGV[2 * i - 1])
    end
    counts[i] = count
  end
end
return counts
";

static HIT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(SCRIPT));

/// Rate-limit counters in Redis.
#[derive(Clone)]
pub struct RedisRateLimiter {
    pool: Pool,
    prefix: String,
    /// The connection every request shares, until it fails.
    shared: Arc<Mutex<Option<MultiplexedConnection>>>,
}

impl std::fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRateLimiter")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisRateLimiter {
    /// Counters in the Redis behind `pool`, each key preceded by `prefix` (usually empty).
    pub fn new(pool: Pool, prefix: impl Into<String>) -> Self {
        Self {
            pool,
            prefix: prefix.into(),
            shared: Arc::default(),
        }
    }

    fn current(&self) -> Option<MultiplexedConnection> {
        self.shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn replace(&self, connection: Option<MultiplexedConnection>) {
        *self.shared.lock().unwrap_or_else(PoisonError::into_inner) = connection;
    }

    /// Runs the script on the shared connection, checking one out of the pool when there is
    /// none; any failure drops it. Bounded by [`pool::TIMEOUT`] as a whole.
    async fn invoke(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<Vec<u64>, pool::RedisError> {
        let attempt = async {
            let mut connection = match self.current() {
                Some(connection) => connection,
                None => {
                    let pooled = self.pool.get().await?;
                    let connection: MultiplexedConnection = (*pooled).clone();
                    self.replace(Some(connection.clone()));
                    connection
                }
            };
            Ok::<_, pool::RedisError>(invocation.invoke_async(&mut connection).await?)
        };
        let outcome = tokio::time::timeout(pool::TIMEOUT, attempt)
            .await
            .unwrap_or(Err(pool::RedisError::Timeout));
        if outcome.is_err() {
            self.replace(None);
        }
        outcome
    }
}

fn unavailable(error: pool::RedisError) -> RateLimiterError {
    RateLimiterError::Unavailable(Box::new(error))
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    #[tracing::instrument(name = "redis.rate_limit.hit", skip_all, fields(otel.kind = "client", db.system = "redis"))]
    async fn hit(&self, counters: &[Counter]) -> Result<Vec<u64>, RateLimiterError> {
        if counters.is_empty() {
            return Ok(Vec::new());
        }
        let mut invocation = HIT.prepare_invoke();
        for counter in counters {
            invocation.key(format!("{}{}", self.prefix, counter.key()));
        }
        for counter in counters {
            invocation.arg(counter.ttl_seconds());
            invocation.arg(counter.limit());
        }
        let counts = self.invoke(&invocation).await.map_err(unavailable)?;
        if counts.len() == counters.len() {
            Ok(counts)
        } else {
            Err(RateLimiterError::Unavailable(
                format!(
                    "the rate-limit script returned {} counts for {} counters",
                    counts.len(),
                    counters.len()
                )
                .into(),
            ))
        }
    }

    #[tracing::instrument(name = "redis.ping", skip_all, fields(otel.kind = "client", db.system = "redis"))]
    async fn ping(&self) -> Result<(), RateLimiterError> {
        pool::ping(&self.pool).await.map_err(unavailable)
    }
}
