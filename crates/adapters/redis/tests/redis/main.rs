//! The rate limiter's backends held to the `RateLimiter` port contract: exact counts, expiry
//! with the first hit, isolation of keys, no lost increment under concurrency, and bounded
//! failure when Redis is down.
//!
//! The tests that need a Redis server live in modules named `redis` and run against
//! `TEST_REDIS_URL` (e.g. `redis://127.0.0.1:6379`); without it they fail, and `scripts/test`
//! leaves them out, counted as skipped. Each test writes under a key
//! prefix of its own, so tests run in parallel against one server.

/// The outbox's stream sink (`keel_redis::stream`).
mod stream;

/// The OAuth flow store (`keel_redis::RedisOAuthFlows`).
mod oauth_flows;

use keel_domain::rate_limit::{Counter, Policy, Principal, Quota};
use keel_ports::RateLimiter;
use keel_redis::{InProcessRateLimiter, RedisRateLimiter};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The Redis server of `TEST_REDIS_URL` (as `keel_testkit::services::redis_url`, which this
/// crate's tests do not depend on).
///
/// # Panics
/// When the variable is unset or blank: a test that needs Redis never passes without it.
pub(crate) fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .expect(
            "this test needs Redis and TEST_REDIS_URL is not set: set it (scripts/test sets it \
             when Redis answers on its default local port, and otherwise leaves the `redis` \
             tests out, reported as skipped)",
        )
}

/// A limiter on the test server (`TEST_REDIS_URL`) under a fresh prefix.
async fn limiter_on_redis() -> (RedisRateLimiter, keel_redis::Pool, String) {
    let url = redis_url();
    let pool = keel_redis::connect(&url).expect("TEST_REDIS_URL is a Redis URL");
    keel_redis::ping(&pool)
        .await
        .unwrap_or_else(|e| panic!("TEST_REDIS_URL is set but Redis does not answer: {e}"));
    let prefix = format!("keel-test:{}:", uuid::Uuid::new_v4());
    (
        RedisRateLimiter::new(pool.clone(), prefix.clone()),
        pool,
        prefix,
    )
}

fn counter(policy: Policy, limit_window: u64, who: &str) -> Counter {
    Counter::new(
        policy,
        Quota::new(10, limit_window).expect("quota"),
        &Principal::account(&if who.contains('@') {
            who.to_owned()
        } else {
            format!("{who}@example.com")
        })
        .expect("an address"),
        time_now(),
    )
}

fn time_now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after the epoch")
            .as_secs(),
    )
    .expect("in range")
}

async fn counts_exactly(limiter: &dyn RateLimiter) {
    let a = counter(Policy::ApiRead, 3600, "a");
    let b = counter(Policy::ApiRead, 3600, "b");
    let a_write = counter(Policy::ApiWrite, 3600, "a");
    for expected in 1..=5_u64 {
        assert_eq!(
            limiter.hit(std::slice::from_ref(&a)).await.expect("hit"),
            [expected]
        );
    }
    assert_eq!(
        limiter
            .hit(&[b.clone(), a.clone(), a_write.clone()])
            .await
            .expect("hit"),
        [1, 6, 1],
        "keys of other principals and policies count apart"
    );
    assert_eq!(limiter.hit(&[]).await.expect("nothing"), Vec::<u64>::new());
    limiter.ping().await.expect("ping");
}

/// A hit that one budget already refuses (its counter holds the limit, 10) is counted there
/// only: the request's other counters keep their counts, and an absent one is not created.
async fn charges_nothing_else_once_refused(limiter: &dyn RateLimiter) {
    let spent = counter(Policy::AuthLogin, 3600, "spent");
    let other = counter(Policy::AuthLogin, 3600, "other");
    let fresh = counter(Policy::AuthLogin, 3600, "fresh");
    for _ in 0..10 {
        limiter
            .hit(std::slice::from_ref(&spent))
            .await
            .expect("hit");
    }
    for _ in 0..3 {
        limiter
            .hit(std::slice::from_ref(&other))
            .await
            .expect("hit");
    }
    assert_eq!(
        limiter
            .hit(&[other.clone(), spent.clone(), fresh.clone()])
            .await
            .expect("hit"),
        [3, 11, 0]
    );
    assert_eq!(
        limiter
            .hit(&[other.clone(), fresh.clone()])
            .await
            .expect("hit"),
        [4, 1],
        "uncharged and not created"
    );
}

async fn loses_no_concurrent_hit(limiter: Arc<dyn RateLimiter>) {
    let shared = counter(Policy::AuthLogin, 3600, "shared");
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let limiter = limiter.clone();
            let shared = shared.clone();
            tokio::spawn(async move { limiter.hit(&[shared]).await.expect("hit")[0] })
        })
        .collect();
    let mut counts = Vec::new();
    for task in tasks {
        counts.push(task.await.expect("task"));
    }
    counts.sort_unstable();
    assert_eq!(
        counts,
        (1..=200).collect::<Vec<u64>>(),
        "every hit counted once"
    );
}

async fn restarts_after_expiry(limiter: &dyn RateLimiter) {
    // A one-second window: the counter lives until the window ends, then counts from zero.
    let now = Instant::now();
    let first = counter(Policy::AuthRegister, 1, "short");
    limiter
        .hit(std::slice::from_ref(&first))
        .await
        .expect("hit");
    assert_eq!(
        limiter
            .hit(std::slice::from_ref(&first))
            .await
            .expect("hit"),
        [2]
    );
    tokio::time::sleep(Duration::from_millis(2100).saturating_sub(now.elapsed())).await;
    // The same key again (not a new window's key): its expiry has passed.
    assert_eq!(limiter.hit(&[first]).await.expect("hit"), [1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_counts_exactly_isolates_keys_and_expires() {
    let limiter = InProcessRateLimiter::default();
    counts_exactly(&limiter).await;
    restarts_after_expiry(&limiter).await;
    charges_nothing_else_once_refused(&limiter).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_loses_no_concurrent_hit() {
    loses_no_concurrent_hit(Arc::new(InProcessRateLimiter::default())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_memory_is_bounded_by_expiry_and_capacity() {
    let limiter = InProcessRateLimiter::with_capacity(100);
    for i in 0..100 {
        limiter
            .hit(&[counter(Policy::ApiRead, 1, &format!("p{i}"))])
            .await
            .expect("room");
    }
    // Full: a new counter evicts the coldest instead of failing (no fail-open, no 503).
    assert_eq!(
        limiter
            .hit(&[counter(Policy::ApiRead, 1, "one-too-many")])
            .await
            .expect("a full table makes room"),
        [1]
    );
    assert_eq!(limiter.len(), 100);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    for i in 0..30 {
        limiter
            .hit(&[counter(Policy::ApiRead, 1, &format!("after{i}"))])
            .await
            .expect("counted");
    }
    // Expired counters are dropped as hits go by (several per hit), before any live one.
    assert!(limiter.len() < 100, "{}", limiter.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_is_an_error_within_seconds_not_a_hang() {
    // A port nothing listens on.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let pool = keel_redis::connect(&format!("redis://127.0.0.1:{port}")).expect("lazy pool");
    let limiter = RedisRateLimiter::new(pool.clone(), "down:");
    let started = Instant::now();
    assert!(
        limiter
            .hit(&[counter(Policy::ApiRead, 60, "x")])
            .await
            .is_err()
    );
    assert!(limiter.ping().await.is_err());
    assert!(keel_redis::ping(&pool).await.is_err());
    assert!(started.elapsed() < Duration::from_secs(3), "failed fast");
    assert!(keel_redis::connect("http://not-redis").is_err());
}

/// Needs Redis (`TEST_REDIS_URL`); left out, counted as skipped, when it is not configured.
mod redis {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn counts_exactly_isolates_keys_and_expires() {
        let (limiter, _, _) = crate::limiter_on_redis().await;
        counts_exactly(&limiter).await;
        restarts_after_expiry(&limiter).await;
        charges_nothing_else_once_refused(&limiter).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_concurrent_hit_is_lost() {
        let (limiter, _, _) = crate::limiter_on_redis().await;
        loses_no_concurrent_hit(Arc::new(limiter)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keys_follow_the_contract_and_expire_with_their_window() {
        let (limiter, pool, prefix) = crate::limiter_on_redis().await;
        let c = counter(Policy::AuthLogin, 60, "alice@example.com");
        limiter.hit(std::slice::from_ref(&c)).await.expect("hit");
        let mut connection = pool.get().await.expect("connection");
        let key = format!("{prefix}{}", c.key());
        let (count, ttl): (u64, i64) = ::redis::pipe()
            .cmd("GET")
            .arg(&key)
            .cmd("TTL")
            .arg(&key)
            .query_async(&mut *connection)
            .await
            .expect("read back");
        assert_eq!(count, 1);
        assert!(
            (1..=i64::try_from(c.ttl_seconds()).expect("small")).contains(&ttl),
            "ttl {ttl} of {}",
            c.ttl_seconds()
        );
        let shape = c.key().split(':').collect::<Vec<_>>();
        assert_eq!(shape[0], "rl");
        assert_eq!(shape[1], "auth_login");
        assert_eq!(shape[3].len(), 16);
        assert!(!key.contains("alice"), "the principal is hashed");
    }
}
