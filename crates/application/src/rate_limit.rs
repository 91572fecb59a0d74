//! Rate limiting: which principal a request is charged to, and the verdict of its budgets.
//!
//! The arithmetic (windows, keys, verdicts) is the domain's ([`keel_domain::rate_limit`]); the
//! counting is the [`RateLimiter`] port's. This use case joins them and applies
//! `RATE_LIMIT_FAIL_OPEN` when the backend is down. It never touches the user store: the
//! principal of a bearer token is read from the verified token alone, so a limited request
//! costs no database round trip before it is refused.

use keel_domain::rate_limit::{Counter, Decision, Policy, Principal, Quota, Window};
use keel_ports::{Clock, RateLimiter, RateLimiterError, TokenCodec};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The quota of each policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    entries: [(Policy, Quota); 4],
}

impl Quotas {
    /// The quotas of `auth_login`, `auth_register`, `api_read` and `api_write`.
    #[must_use]
    pub const fn new(login: Quota, register: Quota, read: Quota, write: Quota) -> Self {
        Self {
            entries: [
                (Policy::AuthLogin, login),
                (Policy::AuthRegister, register),
                (Policy::ApiRead, read),
                (Policy::ApiWrite, write),
            ],
        }
    }

    /// The quota of `policy` (`None` for a policy this build does not know).
    #[must_use]
    pub fn of(&self, policy: Policy) -> Option<Quota> {
        self.entries
            .iter()
            .find(|(p, _)| *p == policy)
            .map(|(_, quota)| *quota)
    }
}

/// Why a request could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum RateLimitError {
    /// The backend is down and the limiter fails closed (`RATE_LIMIT_FAIL_OPEN=false`).
    #[error("the rate limiting backend is unavailable")]
    BackendUnavailable(#[source] RateLimiterError),
}

/// Checks a request against its rate-limit budgets.
#[derive(Clone)]
pub struct CheckRateLimit {
    limiter: Arc<dyn RateLimiter>,
    tokens: Arc<dyn TokenCodec>,
    clock: Arc<dyn Clock>,
    quotas: Quotas,
    fail_open: bool,
    /// Whether the last call reached the backend: outages and recoveries are logged once.
    reachable: Arc<AtomicBool>,
}

impl CheckRateLimit {
    /// Wires the use case. `fail_open`: serve requests unmetered while the backend is down.
    pub fn new(
        limiter: Arc<dyn RateLimiter>,
        tokens: Arc<dyn TokenCodec>,
        clock: Arc<dyn Clock>,
        quotas: Quotas,
        fail_open: bool,
    ) -> Self {
        Self {
            limiter,
            tokens,
            clock,
            quotas,
            fail_open,
            reachable: Arc::new(AtomicBool::new(true)),
        }
    }

    /// The quota of `policy`.
    #[must_use]
    pub fn quota(&self, policy: Policy) -> Option<Quota> {
        self.quotas.of(policy)
    }

    /// The principal a request is charged to: `user:{id}` when `bearer` is a valid access
    /// token (signature, issuer, audience, expiry and type checked; the user store is not
    /// asked), else the client address.
    #[must_use]
    pub fn principal(&self, bearer: Option<&str>, client: IpAddr) -> Principal {
        bearer
            .and_then(|token| self.tokens.verify_access(token, self.clock.now()).ok())
            .map_or_else(
                || Principal::address(client),
                |claims| Principal::User(claims.user_id),
            )
    }

    /// Charges one request under `policy` to each of `principals` (several budgets: login's
    /// address and account) and returns the verdict of the tightest budget, which the
    /// response's headers describe. `None`: nothing was metered (no principal, a policy
    /// without a quota, or the backend is down and the limiter fails open).
    ///
    /// # Errors
    /// [`RateLimitError::BackendUnavailable`] when the backend is down and the limiter fails
    /// closed.
    #[tracing::instrument(name = "use_case.check_rate_limit", skip_all)]
    pub async fn execute(
        &self,
        policy: Policy,
        principals: &[Principal],
    ) -> Result<Option<Decision>, RateLimitError> {
        let Some(quota) = self.quotas.of(policy) else {
            return Ok(None);
        };
        if principals.is_empty() {
            return Ok(None);
        }
        let now = self.clock.now().unix_seconds();
        let window = Window::containing(now, quota.window_seconds());
        let counters: Vec<Counter> = principals
            .iter()
            .map(|principal| Counter::new(policy, quota, principal, now))
            .collect();
        match self.limiter.hit(&counters).await {
            Ok(counts) => {
                if !self.reachable.swap(true, Ordering::Relaxed) {
                    tracing::info!("rate limiter backend reachable again");
                }
                Ok(counts
                    .into_iter()
                    .map(|count| Decision::from_count(policy, quota, window, count))
                    .reduce(Decision::tighter))
            }
            Err(error) => {
                if self.reachable.swap(false, Ordering::Relaxed) {
                    tracing::warn!(
                        error = %error,
                        source = ?std::error::Error::source(&error),
                        fail_open = self.fail_open,
                        "rate limiter backend unavailable"
                    );
                }
                if self.fail_open {
                    Ok(None)
                } else {
                    Err(RateLimitError::BackendUnavailable(error))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{fixed_clock, now};
    use keel_domain::user::UserId;
    use keel_ports::{AccessClaims, MockRateLimiter, MockTokenCodec, TokenError};
    use std::net::Ipv4Addr;

    fn quota(limit: u32) -> Quota {
        Quota::new(limit, 60).expect("quota")
    }

    fn quotas() -> Quotas {
        Quotas::new(quota(10), quota(5), quota(120), quota(60))
    }

    fn tokens() -> Arc<dyn TokenCodec> {
        let mut tokens = MockTokenCodec::new();
        tokens
            .expect_verify_access()
            .returning(|token, _| match token {
                "good" => Ok(AccessClaims {
                    user_id: UserId::new(7),
                    family: None,
                }),
                _ => Err(TokenError::Invalid),
            });
        Arc::new(tokens)
    }

    fn use_case(limiter: MockRateLimiter, fail_open: bool) -> CheckRateLimit {
        CheckRateLimit::new(
            Arc::new(limiter),
            tokens(),
            fixed_clock(),
            quotas(),
            fail_open,
        )
    }

    const HOME: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

    #[test]
    fn a_valid_token_names_the_user_and_anything_else_the_address() {
        let uc = use_case(MockRateLimiter::new(), true);
        assert_eq!(
            uc.principal(Some("good"), HOME),
            Principal::User(UserId::new(7))
        );
        assert_eq!(uc.principal(Some("forged"), HOME), Principal::address(HOME));
        assert_eq!(uc.principal(None, HOME), Principal::address(HOME));
    }

    #[tokio::test]
    async fn counts_become_the_verdict_of_the_tightest_budget() {
        let mut limiter = MockRateLimiter::new();
        limiter
            .expect_hit()
            .withf(|counters| {
                counters.len() == 2
                    && counters
                        .iter()
                        .all(|c| c.key().starts_with("rl:auth_login:"))
                    && counters[0].key() != counters[1].key()
            })
            .returning(|_| Ok(vec![3, 11]));
        let uc = use_case(limiter, false);
        let decision = uc
            .execute(
                Policy::AuthLogin,
                &[
                    Principal::address(HOME),
                    Principal::account("a@b.co").expect("an address"),
                ],
            )
            .await
            .expect("checked")
            .expect("metered");
        assert!(!decision.allowed());
        assert_eq!((decision.limit(), decision.remaining()), (10, 0));
        let window = Window::containing(now().unix_seconds(), 60);
        assert_eq!(decision.resets_in(), window.resets_in());
    }

    fn down() -> MockRateLimiter {
        let mut limiter = MockRateLimiter::new();
        limiter
            .expect_hit()
            .returning(|_| Err(RateLimiterError::Unavailable("connection refused".into())));
        limiter
    }

    #[tokio::test]
    async fn an_outage_fails_open_or_closed_as_configured() {
        let open = use_case(down(), true);
        let verdict = open
            .execute(Policy::ApiRead, &[Principal::address(HOME)])
            .await;
        assert!(matches!(verdict, Ok(None)));
        let closed = use_case(down(), false);
        let verdict = closed
            .execute(Policy::ApiRead, &[Principal::address(HOME)])
            .await;
        assert!(matches!(
            verdict,
            Err(RateLimitError::BackendUnavailable(_))
        ));
    }

    #[tokio::test]
    async fn nothing_to_charge_is_not_metered() {
        let uc = use_case(MockRateLimiter::new(), false);
        assert!(matches!(uc.execute(Policy::ApiWrite, &[]).await, Ok(None)));
        assert_eq!(uc.quota(Policy::AuthRegister), Some(quota(5)));
    }
}
