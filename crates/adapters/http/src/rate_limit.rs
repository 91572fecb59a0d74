//! Rate limiting of the routes: whom a request is charged to, the 429 and 503 problems, and
//! the rate-limit headers.
//!
//! The policy a request spends is the one its route declares in the route table
//! (`routes::table`): `charge` runs in the per-route layer, after routing, so every
//! spelling of a path that reaches a handler (`/api/v1/login`, `/api/login`,
//! `/api/v1/log%69n`) spends the same budget. It runs before any extractor, so the order of
//! checks is rate limit → authentication → validation → existence → ownership: an exhausted
//! budget answers 429 whatever else is wrong with the request.
//!
//! - Policies: `auth_login` for login, refresh, logout and the OAuth start, link and callback
//!   routes; `auth_register` for `POST /users`; `api_read` for reading posts; `api_write` for
//!   writing posts and votes. Other routes are not limited.
//! - Principal: `user:{id}` for a valid access token (verified without a database lookup, once
//!   per request: the verified token is left in the request's extensions for the
//!   authentication extractor), else `ip:{client}` from [`crate::client_addr`]. Login is
//!   charged to the client address *and* to the target account (the form's `username` or the
//!   JSON `email`), with the same quota: the body is read once here, within `MAX_BODY_BYTES`,
//!   and handed on to the handler unchanged.
//! - Headers on every limited response, the 429 included: `X-RateLimit-Limit`,
//!   `X-RateLimit-Remaining`, `X-RateLimit-Reset` (seconds), and the IETF `RateLimit-Policy`
//!   (`{policy};q={limit};w={window}`) and `RateLimit` (`{policy};r={remaining};t={reset}`);
//!   with two budgets they describe the one with fewer requests remaining. A 429 adds
//!   `Retry-After` (≥ 1).
//! - Backend down: served without headers (fail open) or 503
//!   `rate_limit_backend_unavailable` (fail closed), per `RATE_LIMIT_FAIL_OPEN`.

use crate::client_addr;
use crate::extract::{BodyFields, VerifiedBearer, bearer_token, json_or_form_body};
use crate::observe::{Observer, RateLimitVerdict};
use crate::problem::Problem;
use crate::routes::RouteMeta;
use actix_web::dev::{Payload, ServiceRequest};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::{Error, HttpMessage, web};
use keel_application::auth::Authenticate;
use keel_application::rate_limit::CheckRateLimit;
use keel_domain::rate_limit::{Decision, Principal};

const X_RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const X_RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const X_RATELIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// A route's rate-limit decision, kept to describe it on the response.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spent {
    decision: Decision,
    window: u64,
}

impl Spent {
    /// Writes the rate-limit headers onto a response.
    pub(crate) fn describe(self, headers: &mut HeaderMap) {
        set_headers(headers, self.decision, self.window);
    }
}

/// Why a request is answered before its handler runs.
pub(crate) struct Refused {
    /// The answer (429, 503, or the login body's read error).
    pub(crate) error: Error,
    /// The budget spent, when the answer should describe it.
    pub(crate) spent: Option<Spent>,
}

/// The rate-limit headers describing `decision` (window length `window`).
fn headers(decision: Decision, window: u64) -> [(HeaderName, HeaderValue); 5] {
    let number = |n: u64| HeaderValue::from(n);
    let policy = decision.policy().name();
    let text = |s: String| {
        HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
    };
    [
        (X_RATELIMIT_LIMIT, number(u64::from(decision.limit()))),
        (
            X_RATELIMIT_REMAINING,
            number(u64::from(decision.remaining())),
        ),
        (X_RATELIMIT_RESET, number(decision.resets_in())),
        (
            RATELIMIT_POLICY,
            text(format!("{policy};q={};w={window}", decision.limit())),
        ),
        (
            RATELIMIT,
            text(format!(
                "{policy};r={};t={}",
                decision.remaining(),
                decision.resets_in()
            )),
        ),
    ]
}

fn set_headers(target: &mut HeaderMap, decision: Decision, window: u64) {
    for (name, value) in headers(decision, window) {
        target.insert(name, value);
    }
}

/// 429 `rate_limit_exceeded` with the rate-limit headers and `Retry-After`.
fn exceeded(decision: Decision, window: u64) -> Problem {
    let mut problem = Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        crate::error_code::ErrorCode::RateLimitExceeded,
        "Rate limit exceeded",
    );
    for (name, value) in headers(decision, window) {
        problem = problem.with_header(name, value);
    }
    problem.with_header(
        header::RETRY_AFTER,
        HeaderValue::from(decision.retry_after()),
    )
}

/// 503 `rate_limit_backend_unavailable`.
fn backend_unavailable() -> Problem {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        crate::error_code::ErrorCode::RateLimitBackendUnavailable,
        "Rate limiting backend is unavailable",
    )
}

/// The login's target account: the form's `username` or the JSON body's `email`, as the
/// handler reads them, normalised like an e-mail address. A body the handler will refuse, or
/// a name that is not an e-mail address, names no account ([`Principal::account`]): the
/// login is charged to the client address only.
fn login_account(req: &ServiceRequest, body: &[u8]) -> Option<Principal> {
    let fields = json_or_form_body(req.request(), body).ok()?;
    let field = match fields {
        BodyFields::Form(_) => "username",
        BodyFields::Json(_) => "email",
    };
    let map = fields.into_map();
    let identity = map.get(field)?.as_str()?;
    Principal::account(identity)
}

/// Charges the request to the budgets of the route that matched (`meta`, from the route
/// table) before its handler runs: `Ok(None)` when the route or the server is not limited (or
/// the backend is down and the limiter fails open), `Ok(Some(_))` when the request may go on,
/// `Err` when it is answered here.
pub(crate) async fn charge(
    meta: RouteMeta,
    req: &mut ServiceRequest,
) -> Result<Option<Spent>, Refused> {
    // Most routes spend nothing: decided before any look-up.
    let Some(policy) = meta.policy else {
        return Ok(None);
    };
    // One reference count for the app's limiter, not a copy of the use case per request.
    let Some(limiter) = req.app_data::<web::Data<Option<CheckRateLimit>>>().cloned() else {
        return Ok(None);
    };
    let Some(check) = limiter.get_ref() else {
        return Ok(None);
    };
    let Some(quota) = check.quota(policy) else {
        return Ok(None);
    };
    let window = quota.window_seconds();
    let client = client_addr::of(req.request()).address;
    let mut body_error = None;
    let principals = if meta.charge_account {
        let mut principals = vec![Principal::address(client)];
        // Read the body once, within the payload limit, and put it back for the handler.
        match req.extract::<web::Bytes>().await {
            Ok(body) => {
                principals.extend(login_account(req, &body));
                req.set_payload(Payload::from(body));
            }
            Err(error) => body_error = Some(error),
        }
        principals
    } else {
        let bearer = bearer_token(req.request());
        match (bearer, req.app_data::<web::Data<Authenticate>>()) {
            (Some(token), Some(authenticate)) => match authenticate.verify(&token) {
                Ok(verified) => {
                    // Verified once: the `AuthUser` extractor loads the user from this.
                    req.extensions_mut().insert(VerifiedBearer(verified));
                    vec![Principal::User(verified.user_id())]
                }
                Err(_) => vec![Principal::address(client)],
            },
            (bearer, _) => vec![check.principal(bearer.as_deref(), client)],
        }
    };
    let result = check.execute(policy, &principals).await;
    if let Some(observer) = req.app_data::<web::Data<Observer>>() {
        // With a quota and a principal, `Ok(None)` means the backend is down and the
        // limiter failed open.
        let verdict = match &result {
            Ok(Some(decision)) if decision.allowed() => RateLimitVerdict::Allowed,
            Ok(Some(_)) => RateLimitVerdict::Limited,
            Ok(None) | Err(_) => RateLimitVerdict::BackendUnavailable,
        };
        observer.0.rate_limit(policy.name(), verdict);
    }
    let decision = result.map_err(|_| Refused {
        error: backend_unavailable().into(),
        spent: None,
    })?;
    let spent = decision.map(|decision| Spent { decision, window });
    if let Some(spent) = spent.filter(|s| !s.decision.allowed()) {
        return Err(Refused {
            error: exceeded(spent.decision, window).into(),
            spent: None,
        });
    }
    match body_error {
        Some(error) => Err(Refused { error, spent }),
        None => Ok(spent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_domain::rate_limit::{Policy, Quota, Window};

    #[test]
    fn headers_follow_the_ietf_draft_and_the_x_convention() {
        let quota = Quota::new(10, 60).expect("quota");
        let decision =
            Decision::from_count(Policy::AuthLogin, quota, Window::containing(15, 60), 4);
        let mut map = HeaderMap::new();
        set_headers(&mut map, decision, 60);
        let get = |name: &str| map.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
        assert_eq!(get("x-ratelimit-limit"), "10");
        assert_eq!(get("x-ratelimit-remaining"), "6");
        assert_eq!(get("x-ratelimit-reset"), "45");
        assert_eq!(get("ratelimit-policy"), "auth_login;q=10;w=60");
        assert_eq!(get("ratelimit"), "auth_login;r=6;t=45");
    }
}
