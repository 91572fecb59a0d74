//! The in-process rate limiter: fixed-window counters in this process's memory, for a single
//! replica without Redis.
//!
//! Memory stays bounded: a counter is dropped once its window has passed (swept at most once a
//! second, and whenever the table is full), and the table never holds more than its capacity —
//! a hit on a new counter while it is full of live counters is refused as
//! [`RateLimiterError::Unavailable`], so `RATE_LIMIT_FAIL_OPEN` decides, as for a Redis outage.
//! One mutex guards the table; every operation under it is O(1) except the sweep.

use async_trait::async_trait;
use keel_domain::rate_limit::Counter;
use keel_ports::{RateLimiter, RateLimiterError};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Live counters a limiter holds by default (about 150 bytes each).
pub const DEFAULT_CAPACITY: usize = 200_000;

const SWEEP_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct Entry {
    count: u64,
    expires_at: Instant,
}

#[derive(Debug)]
struct Table {
    counters: HashMap<String, Entry>,
    next_sweep: Instant,
}

impl Table {
    fn sweep(&mut self, now: Instant) {
        self.counters.retain(|_, entry| entry.expires_at > now);
        self.next_sweep = now + SWEEP_EVERY;
    }
}

/// Rate-limit counters in this process.
#[derive(Debug)]
pub struct InProcessRateLimiter {
    table: Mutex<Table>,
    capacity: usize,
}

impl Default for InProcessRateLimiter {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl InProcessRateLimiter {
    /// A limiter holding at most `capacity` live counters (at least 1).
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            table: Mutex::new(Table {
                counters: HashMap::new(),
                next_sweep: Instant::now() + SWEEP_EVERY,
            }),
            capacity: capacity.max(1),
        }
    }

    /// Counters currently held (live or not yet swept).
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().counters.len()
    }

    /// Whether no counter is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // Nothing panics while the lock is held; a poisoned table is still consistent.
        self.table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn hit_now(&self, counters: &[Counter], now: Instant) -> Result<Vec<u64>, RateLimiterError> {
        let mut table = self.lock();
        if now >= table.next_sweep {
            table.sweep(now);
        }
        let missing = counters
            .iter()
            .filter(|c| !table.counters.contains_key(c.key()))
            .count();
        if table.counters.len() + missing > self.capacity {
            table.sweep(now);
            if table.counters.len() + missing > self.capacity {
                return Err(RateLimiterError::Unavailable(
                    format!(
                        "the in-process rate limiter holds {} live counters, its capacity",
                        table.counters.len()
                    )
                    .into(),
                ));
            }
        }
        let counts = counters
            .iter()
            .map(|counter| {
                let ttl = Duration::from_secs(counter.ttl_seconds());
                let entry = table
                    .counters
                    .entry(counter.key().to_owned())
                    .or_insert(Entry {
                        count: 0,
                        expires_at: now + ttl,
                    });
                if entry.expires_at <= now {
                    // A counter of a past window that was not swept yet starts afresh.
                    entry.count = 0;
                    entry.expires_at = now + ttl;
                }
                entry.count += 1;
                entry.count
            })
            .collect();
        Ok(counts)
    }
}

#[async_trait]
impl RateLimiter for InProcessRateLimiter {
    async fn hit(&self, counters: &[Counter]) -> Result<Vec<u64>, RateLimiterError> {
        self.hit_now(counters, Instant::now())
    }

    async fn ping(&self) -> Result<(), RateLimiterError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_domain::rate_limit::{Policy, Principal, Quota};

    fn counter(name: &str, window: u64) -> Counter {
        Counter::new(
            Policy::ApiRead,
            Quota::new(5, window).expect("quota"),
            &Principal::account(name),
            0,
        )
    }

    #[test]
    fn counts_per_key_and_restarts_after_expiry() {
        let limiter = InProcessRateLimiter::default();
        let start = Instant::now();
        let a = counter("a", 10);
        let b = counter("b", 10);
        assert_eq!(
            limiter
                .hit_now(std::slice::from_ref(&a), start)
                .expect("hit"),
            [1]
        );
        assert_eq!(
            limiter
                .hit_now(&[a.clone(), b.clone()], start)
                .expect("hit"),
            [2, 1]
        );
        let later = start + Duration::from_secs(11);
        assert_eq!(limiter.hit_now(&[a], later).expect("hit"), [1]);
        // The sweep dropped b's expired counter.
        assert_eq!(limiter.len(), 1);
    }

    #[test]
    fn a_full_table_refuses_new_counters_until_they_expire() {
        let limiter = InProcessRateLimiter::with_capacity(2);
        let start = Instant::now();
        limiter
            .hit_now(&[counter("a", 5), counter("b", 5)], start)
            .expect("room for two");
        assert!(limiter.hit_now(&[counter("c", 5)], start).is_err());
        // Known counters still count while full.
        assert_eq!(
            limiter.hit_now(&[counter("a", 5)], start).expect("known"),
            [2]
        );
        let later = start + Duration::from_secs(6);
        assert_eq!(
            limiter.hit_now(&[counter("c", 5)], later).expect("swept"),
            [1]
        );
        assert_eq!(limiter.len(), 1);
    }
}
