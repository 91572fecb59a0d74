//! Opening the connection pool and checking that it answers.
//!
//! PostgreSQL is used as configured. SQLite is tuned so that concurrent writes queue instead of
//! failing with `SQLITE_BUSY` ("database is locked"):
//! - foreign keys on (SQLite leaves them off by default), WAL journal (readers never block the
//!   writer), `synchronous = NORMAL` (durable in WAL mode, no fsync per commit) and a busy
//!   timeout;
//! - **one pooled connection unless told otherwise.** SQLite admits one writer at a time
//!   whatever the pool size, so a single connection costs no write throughput; it turns lock
//!   contention into waiting for the pool (bounded by the acquire timeout), where it can never
//!   surface as `SQLITE_BUSY`. A caller that asks for more connections gets them (reads then
//!   run in parallel under WAL); every write transaction of this crate then starts with
//!   `BEGIN IMMEDIATE` (see `transaction`), so a second writer waits on the busy timeout
//!   instead of failing on a read-to-write lock upgrade;
//! - `sqlite::memory:` (or `mode=memory`) always uses exactly one connection that is never
//!   recycled: every new connection would open a different, empty database.
//!
//! A server with several single-threaded workers (actix-web) opens one PostgreSQL pool per
//! worker with [`connect_per_worker`]: a connection's socket belongs to the event loop of the
//! worker that opened it, so a connection shared between workers makes every database reply
//! wake two threads instead of one (measured in docs/performance.md).

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
use std::time::Duration;

/// How long a query waits for a pooled connection before failing as unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// A request waits at most this long for a PostgreSQL connection before answering 503.
const POSTGRES_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an SQLite writer waits for another process's (or connection's) write lock.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// PostgreSQL connections idle this long are pinged before reuse (servers, proxies and
/// firewalls drop idle connections); busy ones are handed out without a round trip. Those the
/// database dropped sooner (a restart) are found by the first operation on one, which evicts
/// the pool's idle connections and retries (see `lost_connection`).
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(30);

/// Opens a pool on `url` (`postgres://…` or `sqlite://…`).
///
/// `max_connections`: the pool size. `None` means four per core, at least 10, for PostgreSQL
/// ([`default_pool_size`]) and one connection for SQLite (see the module docs for why).
/// In-memory SQLite always uses one.
///
/// # Errors
/// [`DbErr`] when the URL is invalid or no connection can be opened.
pub async fn connect(url: &str, max_connections: Option<u32>) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url);
    // Statement logging through `log` at INFO would log every query; spans are still recorded.
    options.sqlx_logging(false).acquire_timeout(ACQUIRE_TIMEOUT);
    if is_sqlite(url) {
        let in_memory = is_in_memory(url);
        let size = if in_memory {
            1
        } else {
            max_connections.unwrap_or(1).max(1)
        };
        options.max_connections(size).test_before_acquire(false);
        if in_memory {
            options
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        }
        options.map_sqlx_sqlite_opts(move |sqlite| {
            let sqlite = sqlite.foreign_keys(true).busy_timeout(SQLITE_BUSY_TIMEOUT);
            if in_memory {
                sqlite
            } else {
                sqlite
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
            }
        });
    } else {
        // Sized to the machine unless configured: a few connections per core keep the CPU busy
        // while others wait on the network.
        options.max_connections(max_connections.unwrap_or_else(default_pool_size).max(1));
        // Lazy: the process starts (and `/health` answers) while the database is still down;
        // `/ready` reports it until it answers.
        options
            .connect_lazy(true)
            .acquire_timeout(POSTGRES_ACQUIRE_TIMEOUT)
            .test_before_acquire_if_idle_for(PING_IF_IDLE_FOR);
    }
    Database::connect(options).await
}

/// The PostgreSQL pool size when none is configured: four connections per core, at least 10 —
/// a few per core keep the CPU busy while others wait on the network.
#[must_use]
pub fn default_pool_size() -> u32 {
    let cores =
        std::thread::available_parallelism().map_or(2, |n| u32::try_from(n.get()).unwrap_or(2));
    (cores * 4).max(10)
}

/// The sizes of `workers` pools that share `total` connections: as even as possible, at least
/// one each (so the sum exceeds `total` only when `total < workers`).
#[must_use]
pub fn split_pool(total: u32, workers: u32) -> Vec<u32> {
    let workers = workers.max(1);
    (0..workers)
        .map(|i| (total / workers + u32::from(i < total % workers)).max(1))
        .collect()
}

/// Opens the pools of a server with `workers` workers on `url`; worker `i` uses pool
/// `i % len`. PostgreSQL gets one lazy pool per worker, `max_connections` ([`connect`]'s
/// meaning) shared between them by [`split_pool`]; SQLite gets a single pool (its connections
/// are few, and an in-memory database must stay one connection).
///
/// # Errors
/// As [`connect`].
pub async fn connect_per_worker(
    url: &str,
    max_connections: Option<u32>,
    workers: usize,
) -> Result<Vec<DatabaseConnection>, DbErr> {
    let workers = u32::try_from(workers).unwrap_or(u32::MAX).max(1);
    if is_sqlite(url) {
        return Ok(vec![connect(url, max_connections).await?]);
    }
    let total = max_connections.unwrap_or_else(default_pool_size);
    let mut pools = Vec::with_capacity(workers as usize);
    for size in split_pool(total, workers) {
        pools.push(connect(url, Some(size)).await?);
    }
    Ok(pools)
}

/// Whether the database answers a trivial query (for readiness probes). Waits at most the
/// pool's acquire timeout; callers that need a tighter bound wrap it in their own timeout.
///
/// A pooled connection found lost (the database restarted) evicts the pool's idle connections
/// and the ping is tried once more on a new one, so a database that is back is reported ready
/// at once.
pub async fn ping(db: &DatabaseConnection) -> bool {
    crate::lost_connection::once_more_if_lost(db, || db.ping())
        .await
        .is_ok()
}

fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_sqlite_and_in_memory_urls() {
        assert!(is_sqlite("sqlite://keel.db?mode=rwc"));
        assert!(is_sqlite("sqlite::memory:"));
        assert!(!is_sqlite("postgres://postgres@localhost/keel"));
        assert!(is_in_memory("sqlite::memory:"));
        assert!(is_in_memory("sqlite://x?mode=memory"));
        assert!(!is_in_memory("sqlite://keel.db?mode=rwc"));
    }

    #[test]
    fn worker_pools_share_the_total_evenly_with_at_least_one_each() {
        assert_eq!(split_pool(10, 2), vec![5, 5]);
        assert_eq!(split_pool(10, 3), vec![4, 3, 3]);
        assert_eq!(split_pool(1, 3), vec![1, 1, 1]);
        assert_eq!(split_pool(7, 0), vec![7]);
        for total in 0..40 {
            for workers in 1..12 {
                let sizes = split_pool(total, workers);
                assert_eq!(sizes.len(), workers as usize);
                assert!(sizes.iter().all(|&s| s >= 1));
                let (min, max) = (sizes.iter().min(), sizes.iter().max());
                assert!(max.zip(min).is_some_and(|(a, b)| a - b <= 1), "{sizes:?}");
                if total >= workers {
                    assert_eq!(sizes.iter().sum::<u32>(), total, "{total} over {workers}");
                }
            }
        }
    }
}

/// A snapshot of the connection pool, for the `db_pool_*` metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Connections checked out right now.
    pub in_use: u64,
    /// Open connections waiting in the pool.
    pub idle: u64,
    /// The pool's size limit.
    pub max: u64,
}

/// The use of several pools (those of [`connect_per_worker`]), summed.
#[must_use]
pub fn pools_stats(dbs: &[DatabaseConnection]) -> PoolStats {
    dbs.iter()
        .map(pool_stats)
        .fold(PoolStats::default(), |sum, one| PoolStats {
            in_use: sum.in_use + one.in_use,
            idle: sum.idle + one.idle,
            max: sum.max + one.max,
        })
}

/// The pool's current use (all zero for a connection that is not a pool).
#[must_use]
pub fn pool_stats(db: &DatabaseConnection) -> PoolStats {
    let (size, idle, max) = match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        sea_orm::DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        _ => return PoolStats::default(),
    };
    let idle = u64::try_from(idle).unwrap_or(u64::MAX);
    PoolStats {
        in_use: u64::from(size).saturating_sub(idle),
        idle,
        max: u64::from(max),
    }
}
