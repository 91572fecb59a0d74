//! Rate-limit windows, counter keys and verdicts ([`keel_domain::rate_limit`]).

use keel_domain::rate_limit::{
    Counter, Decision, KEY_HASH_HEX_DIGITS, Policy, Principal, Quota, Window, counter_key,
};
use keel_domain::user::UserId;
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn policy() -> impl Strategy<Value = Policy> {
    prop::sample::select(Policy::ALL.to_vec())
}

fn principal() -> impl Strategy<Value = Principal> {
    prop_oneof![
        any::<i64>().prop_map(|id| Principal::User(UserId::new(id))),
        any::<u32>().prop_map(|ip| Principal::address(IpAddr::V4(Ipv4Addr::from(ip)))),
        any::<u128>().prop_map(|ip| Principal::address(IpAddr::V6(Ipv6Addr::from(ip)))),
        " ?[A-Za-z0-9_-]{1,20}@[a-z0-9]{1,10}\\.[a-z]{2,5} ?"
            .prop_filter_map("an e-mail address", |s| Principal::account(&s)),
    ]
}

/// Instants from the epoch to well past 2100.
fn instant() -> impl Strategy<Value = i64> {
    0_i64..5_000_000_000
}

fn window_length() -> impl Strategy<Value = u64> {
    prop_oneof![1_u64..=120, 1_u64..=86_400 * 7]
}

proptest! {
    /// Invariant: the window containing `now` starts at or before `now`, ends after it, resets
    /// in 1..=w seconds, and ends on a multiple of its length.
    #[test]
    fn the_window_contains_now_and_resets_within_its_length(now in instant(), w in window_length()) {
        let window = Window::containing(now, w);
        let now = u64::try_from(now).expect("non-negative");
        prop_assert!(window.index() * w <= now);
        prop_assert!(now < (window.index() + 1) * w);
        prop_assert!((1..=w).contains(&window.resets_in()));
        prop_assert_eq!((now + window.resets_in()) % w, 0);
    }

    /// Invariant: two instants share a window exactly when they share a key, and a counter
    /// lives exactly until its window ends.
    #[test]
    fn instants_share_a_counter_exactly_when_they_share_a_window(
        a in instant(), gap in 0_i64..300, w in 1_u64..=120, policy in policy(), who in principal()
    ) {
        let b = a + gap;
        let quota = Quota::new(1, w).expect("quota");
        let same_window = Window::containing(a, w).index() == Window::containing(b, w).index();
        let (ca, cb) = (Counter::new(policy, quota, &who, a), Counter::new(policy, quota, &who, b));
        prop_assert_eq!(same_window, ca.key() == cb.key());
        prop_assert_eq!(ca.ttl_seconds(), Window::containing(a, w).resets_in());
    }

    /// Invariant: a key is `rl:{policy}:{window}:{16 lower-case hex digits}`, the same for the
    /// same inputs, and never contains the principal in clear.
    #[test]
    fn keys_have_the_contract_shape_and_hide_the_principal(
        policy in policy(), window in any::<u64>(), who in principal()
    ) {
        let key = counter_key(policy, window, &who);
        let prefix = format!("rl:{}:{window}:", policy.name());
        prop_assert!(key.starts_with(&prefix));
        let hash = &key[prefix.len()..];
        prop_assert_eq!(hash.len(), KEY_HASH_HEX_DIGITS);
        prop_assert!(hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        prop_assert_eq!(&key, &counter_key(policy, window, &who));
        let text = who.to_string();
        let (_, clear) = text.split_once(':').expect("kind:value");
        prop_assert!(clear.len() < 8 || !hash.contains(clear));
        prop_assert!(!key.contains('@') && !key.contains('.'));
    }

    /// Invariant: different principals, policies or windows never share a key (64 bits of
    /// SHA-256 make a collision among test inputs practically impossible).
    #[test]
    fn keys_isolate_principals_policies_and_windows(
        a in principal(), b in principal(), p in policy(), q in policy(), w in 0_u64..1000, v in 0_u64..1000
    ) {
        let same_inputs = a.to_string() == b.to_string() && p == q && w == v;
        prop_assert_eq!(same_inputs, counter_key(p, w, &a) == counter_key(q, v, &b));
    }

    /// Invariant: of `hits` counted in one window, exactly the first `limit` are allowed;
    /// remaining falls by one per hit to zero and stays there; Retry-After is at least 1.
    #[test]
    fn exactly_the_first_limit_hits_are_allowed(limit in 1_u32..50, hits in 1_u64..120, now in instant()) {
        let quota = Quota::new(limit, 60).expect("quota");
        let window = Window::containing(now, 60);
        let decisions: Vec<Decision> = (1..=hits)
            .map(|count| Decision::from_count(Policy::ApiRead, quota, window, count))
            .collect();
        let allowed = decisions.iter().filter(|d| d.allowed()).count() as u64;
        prop_assert_eq!(allowed, hits.min(u64::from(limit)));
        for (i, d) in decisions.iter().enumerate() {
            let count = i as u64 + 1;
            prop_assert_eq!(u64::from(d.remaining()), u64::from(limit).saturating_sub(count));
            prop_assert!(d.remaining() <= d.limit());
            prop_assert!(d.retry_after() >= 1);
            prop_assert_eq!(d.allowed(), count <= u64::from(limit));
        }
    }

    /// Invariant: the tighter of two budgets refuses when either refuses, reports the fewer
    /// remaining, and does not depend on the order it is asked in.
    #[test]
    fn the_tighter_budget_refuses_if_either_does(
        limit in 1_u32..20, a in 1_u64..40, b in 1_u64..40, now in instant()
    ) {
        let quota = Quota::new(limit, 60).expect("quota");
        let window = Window::containing(now, 60);
        let da = Decision::from_count(Policy::AuthLogin, quota, window, a);
        let db = Decision::from_count(Policy::AuthLogin, quota, window, b);
        let t = da.tighter(db);
        prop_assert_eq!(t.allowed(), da.allowed() && db.allowed());
        prop_assert_eq!(t.remaining(), da.remaining().min(db.remaining()));
        prop_assert_eq!(t, db.tighter(da));
    }

    /// Invariant: IPv6 addresses in one /64 are one principal, and an IPv4-mapped address is
    /// its IPv4 address.
    #[test]
    fn addresses_group_by_slash_64_and_unmap_ipv4(net in any::<u64>(), a in any::<u64>(), b in any::<u64>(), v4 in any::<u32>()) {
        let host = |h: u64| IpAddr::V6(Ipv6Addr::from((u128::from(net) << 64) | u128::from(h)));
        prop_assert_eq!(Principal::address(host(a)), Principal::address(host(b)));
        let v4 = Ipv4Addr::from(v4);
        prop_assert_eq!(
            Principal::address(IpAddr::V6(v4.to_ipv6_mapped())),
            Principal::address(IpAddr::V4(v4))
        );
    }
}

#[test]
fn example_ten_logins_a_minute_the_eleventh_is_refused_until_the_next_minute() {
    let quota = Quota::new(10, 60).expect("quota");
    // 12:00:45 on some day: the window resets in 15 s.
    let now = 1_800_000_045;
    let window = Window::containing(now, 60);
    assert_eq!(window.resets_in(), 15);
    let tenth = Decision::from_count(Policy::AuthLogin, quota, window, 10);
    let eleventh = Decision::from_count(Policy::AuthLogin, quota, window, 11);
    assert!(tenth.allowed() && tenth.remaining() == 0);
    assert!(!eleventh.allowed());
    assert_eq!(eleventh.retry_after(), 15);
    let principal = Principal::address(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let counter = Counter::new(Policy::AuthLogin, quota, &principal, now);
    assert_eq!(counter.key(), "rl:auth_login:30000000:508cc0fe26185d71");
    assert_eq!(counter.ttl_seconds(), 15);
}
