//! The in-process rate limiter: fixed-window counters in this process's memory, for a single
//! replica without Redis.
//!
//! # Bounded memory, and what being full costs
//!
//! The table never holds more than its capacity of counters, and being full is never an
//! outage: a hit on a new counter while the table is full makes room by evicting, in order,
//!
//! 1. a counter whose window has passed (the one that expired first), else
//! 2. the *coldest* live counter: the lowest count, and of equal counts the least recently hit.
//!
//! Counters whose window passed are also dropped as hits go by (a few per hit, oldest first),
//! so a quiet table empties without a full sweep. Every operation under the one mutex is
//! O(log n) in the number of counters: two ordered indexes (by expiry, and by count then last
//! hit) sit beside the map.
//!
//! Why the lowest count. Evicting a counter forgets its hits, so its principal may spend its
//! budget again in the same window; an eviction policy must make that expensive for an
//! attacker and rare for everyone else.
//! - A flood of new principals (spoofed accounts, rotating addresses) only churns itself: each
//!   new counter starts at 1, so once the table is full of anything hotter, the next new
//!   counter evicts the previous one. Counters with more hits — principals near or over their
//!   budget, the ones worth remembering — stay.
//! - A counter at count `c` is evicted only when every other live counter has a count of at
//!   least `c` (of equal counts, the older one goes), i.e. when the table holds at least
//!   `(capacity − 1)·c` hits of live windows. A principal refused at its limit `L` (count
//!   `> L`) is therefore forgotten only after someone spent about `capacity·L` hits within its
//!   window — 2,000,000 for the default capacity and a login limit of 10 — and each such
//!   eviction buys it at most `L` more allowed hits. Within one window a principal gets at most
//!   `L·(1 + e)` allowed hits, where `e` is how often its counter was evicted in that window,
//!   each eviction costing the attacker `(capacity − 1)·L` hits.
//! - Least-recently-used alone would not do: a flood of new principals evicts the oldest
//!   counters first, which are exactly the long-running abusers.
//!
//! A hit never evicts one of its own counters (a login's address and account budgets), and a
//! hit some budget already refuses charges — and creates — no counter of its other budgets.
//! Counts are exact while nothing is evicted: every hit is counted under the mutex.

use async_trait::async_trait;
use keel_domain::rate_limit::Counter;
use keel_ports::{RateLimiter, RateLimiterError};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Counters a limiter holds by default (an estimated 250 bytes each with the indexes, not
/// measured).
pub const DEFAULT_CAPACITY: usize = 200_000;

/// The smallest capacity: room for the counters of one hit (a login charges two).
pub const MIN_CAPACITY: usize = 8;

/// Expired counters dropped per hit, besides evictions.
const EXPIRED_DROPPED_PER_HIT: usize = 4;

type Key = Arc<str>;

#[derive(Debug)]
struct Entry {
    count: u64,
    expires_at: Instant,
    /// Sequence number of the last hit (larger is more recent).
    touched: u64,
}

#[derive(Debug, Default)]
struct Table {
    counters: HashMap<Key, Entry>,
    /// Every counter by (expiry, key).
    by_expiry: BTreeSet<(Instant, Key)>,
    /// Every counter by (count, last hit, key): the first is the coldest.
    by_heat: BTreeSet<(u64, u64, Key)>,
    /// Hits so far, for `touched`.
    sequence: u64,
}

impl Table {
    fn remove(&mut self, key: &Key) {
        if let Some(entry) = self.counters.remove(key) {
            self.by_expiry.remove(&(entry.expires_at, Arc::clone(key)));
            self.by_heat
                .remove(&(entry.count, entry.touched, Arc::clone(key)));
        }
    }

    /// The count of `key` in its live window (0 when absent or expired).
    fn live_count(&self, key: &str, now: Instant) -> u64 {
        self.counters
            .get(key)
            .filter(|entry| entry.expires_at > now)
            .map_or(0, |entry| entry.count)
    }

    /// Drops up to `at_most` counters whose window has passed, oldest first.
    fn drop_expired(&mut self, now: Instant, at_most: usize) {
        for _ in 0..at_most {
            match self.by_expiry.first() {
                Some((expires_at, key)) if *expires_at <= now => {
                    let key = Arc::clone(key);
                    self.remove(&key);
                }
                _ => break,
            }
        }
    }

    /// Evicts one counter not among `keep`: an expired one if any, else the coldest.
    /// Returns whether one was evicted.
    fn evict_one(&mut self, now: Instant, keep: &[&str]) -> bool {
        let expired = self
            .by_expiry
            .iter()
            .take_while(|(expires_at, _)| *expires_at <= now)
            .find(|(_, key)| !keep.contains(&&**key))
            .map(|(_, key)| Arc::clone(key));
        let victim = expired.or_else(|| {
            self.by_heat
                .iter()
                .find(|(_, _, key)| !keep.contains(&&**key))
                .map(|(_, _, key)| Arc::clone(key))
        });
        match victim {
            Some(key) => {
                self.remove(&key);
                true
            }
            None => false,
        }
    }

    /// Counts one hit on `counter`, making room first when it is new and the table is full.
    fn hit(&mut self, counter: &Counter, now: Instant, capacity: usize, keep: &[&str]) -> u64 {
        self.sequence += 1;
        let touched = self.sequence;
        let ttl = Duration::from_secs(counter.ttl_seconds());
        let key: Key = match self.counters.get_key_value(counter.key()) {
            Some((key, _)) => Arc::clone(key),
            None => {
                if self.counters.len() >= capacity && !self.evict_one(now, keep) {
                    // Only this hit's own counters are held (a capacity below one hit's
                    // counters): count this one without keeping it.
                    return 1;
                }
                let key: Key = Arc::from(counter.key());
                self.counters.insert(
                    Arc::clone(&key),
                    Entry {
                        count: 0,
                        expires_at: now + ttl,
                        touched,
                    },
                );
                self.by_expiry.insert((now + ttl, Arc::clone(&key)));
                self.by_heat.insert((0, touched, Arc::clone(&key)));
                key
            }
        };
        let Some(entry) = self.counters.get_mut(&key) else {
            return 1;
        };
        self.by_heat
            .remove(&(entry.count, entry.touched, Arc::clone(&key)));
        if entry.expires_at <= now {
            // A counter of a past window that was not dropped yet starts afresh.
            self.by_expiry.remove(&(entry.expires_at, Arc::clone(&key)));
            entry.count = 0;
            entry.expires_at = now + ttl;
            self.by_expiry.insert((entry.expires_at, Arc::clone(&key)));
        }
        entry.count += 1;
        entry.touched = touched;
        self.by_heat.insert((entry.count, touched, key));
        entry.count
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
    /// A limiter holding at most `capacity` counters (at least 8, the room one hit needs).
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            table: Mutex::new(Table::default()),
            capacity: capacity.max(MIN_CAPACITY),
        }
    }

    /// Counters currently held (live or not yet dropped).
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

    fn hit_now(&self, counters: &[Counter], now: Instant) -> Vec<u64> {
        let mut table = self.lock();
        table.drop_expired(now, EXPIRED_DROPPED_PER_HIT);
        let keep: Vec<&str> = counters.iter().map(Counter::key).collect();
        let current: Vec<u64> = counters
            .iter()
            .map(|counter| table.live_count(counter.key(), now))
            .collect();
        // A request some budget already refuses is not charged to the others (nor creates
        // their counters): only the refusing counters count the hit.
        let refused = counters
            .iter()
            .zip(&current)
            .any(|(counter, count)| counter.refuses_after(*count));
        counters
            .iter()
            .zip(current)
            .map(|(counter, count)| {
                if refused && !counter.refuses_after(count) {
                    count
                } else {
                    table.hit(counter, now, self.capacity, &keep)
                }
            })
            .collect()
    }
}

#[async_trait]
impl RateLimiter for InProcessRateLimiter {
    async fn hit(&self, counters: &[Counter]) -> Result<Vec<u64>, RateLimiterError> {
        Ok(self.hit_now(counters, Instant::now()))
    }

    async fn ping(&self) -> Result<(), RateLimiterError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_domain::rate_limit::{Decision, Policy, Principal, Quota, Window};

    fn counter(name: &str, window: u64) -> Counter {
        Counter::new(
            Policy::ApiRead,
            Quota::new(5, window).expect("quota"),
            &Principal::address(ip(name)),
            0,
        )
    }

    /// A distinct address per name.
    fn ip(name: &str) -> std::net::IpAddr {
        let n = name
            .bytes()
            .fold(0_u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
        std::net::IpAddr::V4(n.into())
    }

    fn numbered(n: u32, window: u64) -> Counter {
        Counter::new(
            Policy::AuthLogin,
            Quota::new(10, window).expect("quota"),
            &Principal::address(std::net::IpAddr::V4(n.into())),
            0,
        )
    }

    fn one(limiter: &InProcessRateLimiter, counter: &Counter, now: Instant) -> u64 {
        limiter.hit_now(std::slice::from_ref(counter), now)[0]
    }

    #[test]
    fn counts_per_key_and_restarts_after_expiry() {
        let limiter = InProcessRateLimiter::default();
        let start = Instant::now();
        let a = counter("a", 10);
        let b = counter("b", 10);
        assert_eq!(one(&limiter, &a, start), 1);
        assert_eq!(limiter.hit_now(&[a.clone(), b.clone()], start), [2, 1]);
        let later = start + Duration::from_secs(11);
        assert_eq!(one(&limiter, &a, later), 1);
        // The expired counter of b was dropped as the hit went by.
        assert_eq!(limiter.len(), 1);
    }

    #[test]
    fn a_full_table_evicts_an_expired_counter_before_a_live_one() {
        let limiter = InProcessRateLimiter::with_capacity(MIN_CAPACITY);
        let start = Instant::now();
        let short = counter("short", 1);
        for _ in 0..3 {
            one(&limiter, &short, start);
        }
        for n in 0..7 {
            one(&limiter, &numbered(n, 60), start);
        }
        assert_eq!(limiter.len(), MIN_CAPACITY);
        // `short` is the hottest counter, but its window has passed.
        let later = start + Duration::from_millis(1500);
        {
            let mut table = limiter.lock();
            assert!(table.evict_one(later, &[]));
            assert!(!table.counters.contains_key(short.key()));
        }
        assert_eq!(limiter.len(), MIN_CAPACITY - 1);
    }

    #[test]
    fn a_full_table_evicts_the_coldest_counter_and_never_refuses() {
        let limiter = InProcessRateLimiter::with_capacity(MIN_CAPACITY);
        let now = Instant::now();
        let hot = numbered(1_000, 60);
        for _ in 0..11 {
            one(&limiter, &hot, now);
        }
        for n in 0..100 {
            assert_eq!(one(&limiter, &numbered(n, 60), now), 1, "never refused");
            assert!(limiter.len() <= MIN_CAPACITY);
        }
        // The hot counter (over its limit of 10) was never the coldest.
        assert_eq!(one(&limiter, &hot, now), 12);
        // Of equal counts, the least recently hit goes first.
        let table = limiter.lock();
        let (count, _, _) = table.by_heat.first().expect("not empty");
        assert_eq!(*count, 1);
        assert!(!table.counters.contains_key(numbered(0, 60).key()));
        assert!(table.counters.contains_key(numbered(99, 60).key()));
    }

    #[test]
    fn a_hit_never_evicts_its_own_counters() {
        let limiter = InProcessRateLimiter::with_capacity(MIN_CAPACITY);
        let now = Instant::now();
        for n in 0..8 {
            one(&limiter, &numbered(n, 60), now);
        }
        // `numbered(0)` is the coldest (count 1, hit first), but this hit charges it too:
        // making room for the new counter must evict another.
        let pair = [numbered(100, 60), numbered(0, 60)];
        assert_eq!(limiter.hit_now(&pair, now), [1, 2]);
        assert_eq!(limiter.hit_now(&pair, now), [2, 3]);
        assert_eq!(limiter.len(), MIN_CAPACITY);
        assert!(!limiter.lock().counters.contains_key(numbered(1, 60).key()));
    }

    /// Acceptance: 300,000 distinct principals in one window against a capacity of 1,000: the
    /// table never holds more than 1,000 counters, nothing is refused for want of room, and a
    /// principal over its budget stays refused throughout.
    #[test]
    fn a_flood_of_new_principals_neither_grows_memory_nor_frees_an_abuser() {
        const CAPACITY: usize = 1_000;
        let limiter = InProcessRateLimiter::with_capacity(CAPACITY);
        let quota = Quota::new(10, 60).expect("quota");
        let now = Instant::now();
        let window = Window::containing(0, 60);
        let abuser = numbered(u32::MAX, 60);
        let refused =
            |count: u64| !Decision::from_count(Policy::AuthLogin, quota, window, count).allowed();
        for _ in 0..11 {
            one(&limiter, &abuser, now);
        }
        for n in 0..300_000 {
            let count = one(&limiter, &numbered(n, 60), now);
            assert!(!refused(count), "a new principal is within its budget");
            if n % 50_000 == 0 {
                assert!(limiter.len() <= CAPACITY);
                assert!(limiter.lock().counters.contains_key(abuser.key()));
            }
        }
        assert!(limiter.len() <= CAPACITY);
        // The abuser was not hit during the flood (least recently used of all), yet it is
        // still remembered and still refused.
        assert_eq!(one(&limiter, &abuser, now), 12);
        assert!(refused(12));
        let table = limiter.lock();
        assert_eq!(table.counters.len(), CAPACITY);
        assert_eq!(table.by_expiry.len(), CAPACITY);
        assert_eq!(table.by_heat.len(), CAPACITY);
    }
}
