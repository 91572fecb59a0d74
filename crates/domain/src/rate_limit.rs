//! Rate limiting: fixed windows, the counter each request is charged to, and the verdict a
//! count yields. Pure arithmetic; the counting itself is a port (`keel_ports::RateLimiter`).
//!
//! Invariants kept here:
//! - a [`Window`] contains `now`: `index·w ≤ now < (index+1)·w`, and it resets in `1..=w`
//!   seconds;
//! - a counter key is `rl:{policy}:{window index}:{first 16 hex digits of sha256(principal)}`,
//!   so a key never carries an address, an e-mail or a user id in clear, and every window of
//!   every policy and principal has a key of its own;
//! - of the hits counted in one window, exactly the first `limit` are allowed
//!   ([`Decision::from_count`]); the [`Decision`] never reports more remaining than the limit;
//! - when one request is charged to several budgets (login: the client address and the target
//!   account), the refusal or the budget with fewer remaining wins ([`Decision::tighter`]);
//!   a request one budget already refuses is not charged to the others ([`Counter::limit`]
//!   tells a limiter which, see `keel_ports::RateLimiter::hit`).

use crate::user::{Email, UserId};
use sha2::{Digest, Sha256};
use std::fmt;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv6Addr};

/// The rate-limit policies: which budget a route spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Policy {
    /// Login, refresh, logout and the OAuth flows.
    AuthLogin,
    /// Registration.
    AuthRegister,
    /// Reading posts.
    ApiRead,
    /// Writing posts and votes.
    ApiWrite,
}

impl Policy {
    /// Every policy, in a stable order.
    pub const ALL: [Policy; 4] = [
        Policy::AuthLogin,
        Policy::AuthRegister,
        Policy::ApiRead,
        Policy::ApiWrite,
    ];

    /// The policy's name in keys and headers (`auth_login`, `auth_register`, `api_read`,
    /// `api_write`).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::AuthLogin => "auth_login",
            Self::AuthRegister => "auth_register",
            Self::ApiRead => "api_read",
            Self::ApiWrite => "api_write",
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a quota is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuotaError {
    /// A limit of zero requests would refuse everything.
    #[error("the limit must be at least 1 request")]
    ZeroLimit,
    /// A window of zero seconds has no length.
    #[error("the window must be at least 1 second")]
    ZeroWindow,
}

/// How many requests a principal may make per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    limit: u32,
    window_seconds: u64,
}

impl Quota {
    /// A quota of `limit` requests per `window_seconds`.
    ///
    /// # Errors
    /// [`QuotaError`] when either is zero.
    pub const fn new(limit: u32, window_seconds: u64) -> Result<Self, QuotaError> {
        if limit == 0 {
            return Err(QuotaError::ZeroLimit);
        }
        if window_seconds == 0 {
            return Err(QuotaError::ZeroWindow);
        }
        Ok(Self {
            limit,
            window_seconds,
        })
    }

    /// Requests allowed per window (≥ 1).
    #[must_use]
    pub const fn limit(self) -> u32 {
        self.limit
    }

    /// Length of a window in seconds (≥ 1).
    #[must_use]
    pub const fn window_seconds(self) -> u64 {
        self.window_seconds
    }
}

/// Who a request is charged to.
///
/// Its text form (`user:{id}`, `ip:{address}`, `account:{identity}`) is what the counter key
/// hashes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Principal {
    /// The user of a valid access token.
    User(UserId),
    /// A client address (see [`Principal::address`] for how addresses are grouped).
    Address(IpAddr),
    /// The account a login targets: its normalised e-mail address (see
    /// [`Principal::account`]).
    Account(String),
}

impl Principal {
    /// The principal of a client address. An IPv4-mapped IPv6 address counts as its IPv4
    /// address, and IPv6 addresses count per `/64` network — one subscriber usually holds a
    /// whole `/64`, so counting single addresses would let one client rotate through 2^64
    /// budgets.
    #[must_use]
    pub fn address(address: IpAddr) -> Self {
        match address {
            IpAddr::V4(v4) => Self::Address(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::Address(IpAddr::V4(v4)),
                None => {
                    let network = u128::from(v6) & !((1_u128 << 64) - 1);
                    Self::Address(IpAddr::V6(Ipv6Addr::from(network)))
                }
            },
        }
    }

    /// The principal of the account a login names: its address normalised as
    /// [`Email::parse`] does (so `Alice@Example.com ` and `alice@example.com` share a budget),
    /// or `None` when `identity` is not an e-mail address. Such a login cannot succeed (every
    /// account has an address), so it is charged to the client address only: a budget per
    /// arbitrary string would let a client create counters at will, one per string it makes
    /// up, and spellings of one address beyond what normalisation folds would each get a
    /// budget of their own.
    #[must_use]
    pub fn account(identity: &str) -> Option<Self> {
        Email::parse(identity)
            .ok()
            .map(|email| Self::Account(email.as_str().to_owned()))
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::User(id) => write!(f, "user:{id}"),
            Self::Address(IpAddr::V6(network)) => write!(f, "ip:{network}/64"),
            Self::Address(address) => write!(f, "ip:{address}"),
            Self::Account(identity) => write!(f, "account:{identity}"),
        }
    }
}

/// The fixed window an instant falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    index: u64,
    resets_in: u64,
}

impl Window {
    /// The window of `window_seconds` containing `now_unix` (seconds since the Unix epoch;
    /// instants before the epoch count as the epoch).
    #[must_use]
    pub fn containing(now_unix: i64, window_seconds: u64) -> Self {
        let now = u64::try_from(now_unix).unwrap_or(0);
        let length = window_seconds.max(1);
        let index = now / length;
        Self {
            index,
            resets_in: length - now % length,
        }
    }

    /// The window's number: windows are numbered from the epoch, so every process that shares
    /// a clock agrees on it.
    #[must_use]
    pub const fn index(self) -> u64 {
        self.index
    }

    /// Whole seconds until the next window starts (`1..=window_seconds`).
    #[must_use]
    pub const fn resets_in(self) -> u64 {
        self.resets_in
    }
}

/// Number of hexadecimal digits of the principal's SHA-256 kept in a key (64 bits).
pub const KEY_HASH_HEX_DIGITS: usize = 16;

/// The counter key of `principal` under `policy` in window number `window`:
/// `rl:{policy}:{window}:{sha256(principal)[..16]}` (lower-case hexadecimal).
#[must_use]
pub fn counter_key(policy: Policy, window: u64, principal: &Principal) -> String {
    let digest = Sha256::digest(principal.to_string().as_bytes());
    let mut key = format!("rl:{}:{window}:", policy.name());
    for byte in digest.iter().take(KEY_HASH_HEX_DIGITS / 2) {
        // Writing to a String cannot fail.
        let _ = write!(key, "{byte:02x}");
    }
    key
}

/// One hit to count: the counter's key, how long the counter must live, and the limit of its
/// budget.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Counter {
    key: String,
    ttl_seconds: u64,
    limit: u32,
}

impl Counter {
    /// The counter `principal` is charged to under `policy` at `now_unix`; it lives until its
    /// window ends.
    #[must_use]
    pub fn new(policy: Policy, quota: Quota, principal: &Principal, now_unix: i64) -> Self {
        let window = Window::containing(now_unix, quota.window_seconds());
        Self {
            key: counter_key(policy, window.index(), principal),
            ttl_seconds: window.resets_in(),
            limit: quota.limit(),
        }
    }

    /// The limit of the counter's budget: a hit on a counter that already holds this many
    /// hits is refused ([`Decision::from_count`]).
    #[must_use]
    pub const fn limit(&self) -> u32 {
        self.limit
    }

    /// Whether a hit on a counter already holding `count` hits in its window is refused.
    #[must_use]
    pub fn refuses_after(&self, count: u64) -> bool {
        count >= u64::from(self.limit)
    }

    /// The key (see [`counter_key`]).
    #[must_use]
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Seconds the counter must live after its first hit (`1..=window_seconds`): no less,
    /// since `now` is counted in whole seconds rounded down.
    #[must_use]
    pub const fn ttl_seconds(&self) -> u64 {
        self.ttl_seconds
    }
}

/// The verdict on one request against one budget, with what the rate-limit headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decision {
    policy: Policy,
    allowed: bool,
    limit: u32,
    remaining: u32,
    resets_in: u64,
}

impl Decision {
    /// The verdict for the `count`-th hit (this one included) in `window` of a budget of
    /// `quota`: allowed while `count ≤ limit`.
    #[must_use]
    pub fn from_count(policy: Policy, quota: Quota, window: Window, count: u64) -> Self {
        let limit = quota.limit();
        let used = u32::try_from(count).unwrap_or(u32::MAX).min(limit);
        Self {
            policy,
            allowed: count <= u64::from(limit),
            limit,
            remaining: limit - used,
            resets_in: window.resets_in(),
        }
    }

    /// The policy of the budget.
    #[must_use]
    pub const fn policy(self) -> Policy {
        self.policy
    }

    /// Whether the request may proceed.
    #[must_use]
    pub const fn allowed(self) -> bool {
        self.allowed
    }

    /// Requests per window.
    #[must_use]
    pub const fn limit(self) -> u32 {
        self.limit
    }

    /// Requests left in this window (`0..=limit`).
    #[must_use]
    pub const fn remaining(self) -> u32 {
        self.remaining
    }

    /// Seconds until the window resets.
    #[must_use]
    pub const fn resets_in(self) -> u64 {
        self.resets_in
    }

    /// Seconds a refused client should wait (`Retry-After`): the time to the reset, at least 1.
    #[must_use]
    pub fn retry_after(self) -> u64 {
        // `Window` keeps `resets_in` in `1..=window`; the floor restates the contract here.
        self.resets_in.max(1)
    }

    /// Of two budgets one request was charged to, the one that decides and that the headers
    /// describe: a refusal over an allowance, then the fewer remaining, then the later reset.
    #[must_use]
    pub fn tighter(self, other: Decision) -> Decision {
        let rank = |d: &Decision| (d.allowed, d.remaining, u64::MAX - d.resets_in);
        if rank(&other) < rank(&self) {
            other
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn quota(limit: u32, window: u64) -> Quota {
        Quota::new(limit, window).expect("valid quota")
    }

    #[test]
    fn a_counter_carries_its_limit_and_refuses_from_it_on() {
        let principal = Principal::address(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let counter = Counter::new(Policy::AuthLogin, quota(3, 60), &principal, 1_000);
        assert_eq!(counter.limit(), 3);
        for (count, refused) in [(0, false), (2, false), (3, true), (4, true)] {
            assert_eq!(counter.refuses_after(count), refused, "after {count} hits");
        }
        let one = Counter::new(Policy::ApiRead, quota(1, 60), &principal, 1_000);
        assert_eq!(one.limit(), 1);
        assert!(!one.refuses_after(0) && one.refuses_after(1));
    }

    #[test]
    fn policies_display_their_stable_names() {
        assert_eq!(Policy::AuthLogin.to_string(), "auth_login");
        assert_eq!(Policy::ApiWrite.to_string(), Policy::ApiWrite.name());
    }

    #[test]
    fn keys_hash_the_principal_and_name_policy_and_window() {
        let principal = Principal::address(IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(principal.to_string(), "ip:127.0.0.1");
        assert_eq!(
            counter_key(Policy::ApiRead, 29_000_000, &principal),
            "rl:api_read:29000000:508cc0fe26185d71"
        );
        assert_eq!(
            counter_key(Policy::AuthLogin, 7, &Principal::User(UserId::new(42))),
            "rl:auth_login:7:ea3fd43be1e57d62"
        );
    }

    #[test]
    fn windows_are_numbered_from_the_epoch() {
        let w = Window::containing(125, 60);
        assert_eq!((w.index(), w.resets_in()), (2, 55));
        let w = Window::containing(120, 60);
        assert_eq!((w.index(), w.resets_in()), (2, 60));
        let w = Window::containing(-5, 60);
        assert_eq!((w.index(), w.resets_in()), (0, 60));
        let counter = Counter::new(
            Policy::AuthRegister,
            quota(5, 60),
            &Principal::account("A@B.co").expect("an address"),
            125,
        );
        assert!(counter.key().starts_with("rl:auth_register:2:"));
        assert_eq!(counter.ttl_seconds(), 55);
    }

    #[test]
    fn the_first_limit_hits_are_allowed_and_the_rest_refused() {
        let q = quota(3, 60);
        let w = Window::containing(0, 60);
        let remaining: Vec<(bool, u32)> = (1..=5)
            .map(|n| {
                let d = Decision::from_count(Policy::ApiRead, q, w, n);
                (d.allowed(), d.remaining())
            })
            .collect();
        assert_eq!(
            remaining,
            [(true, 2), (true, 1), (true, 0), (false, 0), (false, 0)]
        );
        assert_eq!(
            Decision::from_count(Policy::ApiRead, q, w, 4).retry_after(),
            60
        );
    }

    #[test]
    fn the_tighter_budget_decides() {
        let w = Window::containing(30, 60);
        let address = Decision::from_count(Policy::AuthLogin, quota(10, 60), w, 3);
        let account = Decision::from_count(Policy::AuthLogin, quota(10, 60), w, 8);
        assert_eq!(address.tighter(account), account);
        assert_eq!(account.tighter(address), account);
        let refused = Decision::from_count(Policy::AuthLogin, quota(10, 60), w, 11);
        let at_limit = Decision::from_count(Policy::AuthLogin, quota(10, 60), w, 10);
        assert_eq!(at_limit.tighter(refused), refused);
    }

    #[test]
    fn a_decision_reports_its_budget_and_window() {
        let w = Window::containing(30, 60);
        let d = Decision::from_count(Policy::ApiWrite, quota(7, 60), w, 2);
        assert_eq!(d.policy(), Policy::ApiWrite);
        assert_eq!((d.limit(), d.remaining(), d.resets_in()), (7, 5, 30));
        assert_eq!(d.retry_after(), 30);
    }

    #[test]
    fn on_equal_verdicts_the_later_reset_then_the_receiver_decides() {
        // Windows longer than 2^32 s: the reset times differ by one second, which the rank
        // must still tell apart.
        let long = 1_u64 << 33;
        let sooner = Decision::from_count(
            Policy::ApiRead,
            quota(5, long),
            Window::containing(1, long),
            1,
        );
        let later = Decision::from_count(
            Policy::ApiRead,
            quota(5, long + 1),
            Window::containing(0, long + 1),
            1,
        );
        assert_eq!(
            (sooner.resets_in(), later.resets_in()),
            (long - 1, long + 1)
        );
        assert_eq!(sooner.tighter(later), later);
        assert_eq!(later.tighter(sooner), later);
        let next = Decision::from_count(
            Policy::ApiRead,
            quota(5, long),
            Window::containing(0, long),
            1,
        );
        assert_eq!(next.resets_in(), long);
        assert_eq!(next.tighter(later), later);
        // A full tie (same verdict, remaining and reset): the receiver's budget is reported.
        let w = Window::containing(0, 60);
        let read = Decision::from_count(Policy::ApiRead, quota(5, 60), w, 5);
        let write = Decision::from_count(Policy::ApiWrite, quota(9, 60), w, 9);
        assert_eq!(read.tighter(write), read);
        assert_eq!(write.tighter(read), write);
    }

    #[test]
    fn addresses_group_ipv6_by_network_and_unmap_ipv4() {
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().expect("ip");
        assert_eq!(
            Principal::address(mapped),
            Principal::address("10.1.2.3".parse().expect("ip"))
        );
        let a = Principal::address("2001:db8:1:2:aaaa::1".parse().expect("ip"));
        let b = Principal::address("2001:db8:1:2:bbbb::2".parse().expect("ip"));
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "ip:2001:db8:1:2::/64");
        assert_ne!(
            a,
            Principal::address("2001:db8:1:3::1".parse().expect("ip"))
        );
    }

    #[test]
    fn accounts_are_normalised_like_emails() {
        assert_eq!(
            Principal::account(" Alice@Example.COM "),
            Some(Principal::Account("alice@example.com".into()))
        );
        for not_an_address in ["Not An Email", "", "   ", "alice", "@example.com", "a@b@c"] {
            assert_eq!(
                Principal::account(not_an_address),
                None,
                "{not_an_address:?}"
            );
        }
        assert_eq!(Quota::new(0, 60), Err(QuotaError::ZeroLimit));
        assert_eq!(Quota::new(1, 0), Err(QuotaError::ZeroWindow));
    }
}
