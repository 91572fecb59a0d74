//! Rate limiting at the edge of the routes (SPEC §6): which policy a route spends, whom the
//! request is charged to, the 429 and 503 problems, and the rate-limit headers.
//!
//! The middleware runs after version routing (it sees canonical paths) and before any handler
//! or extractor, so the order of checks is rate limit → authentication → validation →
//! existence → ownership: an exhausted budget answers 429 whatever else is wrong with the
//! request.
//!
//! - Policies by route ([`policy_for`]): `auth_login` for login, refresh, logout and the OAuth
//!   start, link and callback routes; `auth_register` for `POST /users`; `api_read` for
//!   reading posts; `api_write` for writing posts and votes. Other routes are not limited.
//! - Principal: `user:{id}` for a valid access token (verified without a database lookup, once
//!   per request: the verified token is left in the request's extensions for the
//!   authentication extractor), else `ip:{client}` from [`crate::client_addr`]. Login is charged to the client address
//!   *and* to the target account (the form's `username` or the JSON `email`), with the same
//!   quota: the body is read once here, within `MAX_BODY_BYTES`, and handed on to the handler
//!   unchanged.
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
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use keel_application::auth::Authenticate;
use keel_application::rate_limit::CheckRateLimit;
use keel_domain::rate_limit::{Decision, Policy, Principal};

const X_RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const X_RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const X_RATELIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// The policy a request spends, from its method and canonical path (`/api/{version}/…`,
/// without a trailing slash); `None` for routes that are not limited.
#[must_use]
pub fn policy_for(method: &Method, path: &str) -> Option<Policy> {
    let rest = path.strip_prefix("/api/")?;
    let (version, rest) = rest.split_once('/')?;
    if !(version.len() > 1
        && version.starts_with('v')
        && version[1..].bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let segments: Vec<&str> = rest.split('/').collect();
    let policy = match (method, segments.as_slice()) {
        (&Method::POST, ["login"] | ["auth", "refresh"] | ["auth", "logout"]) => Policy::AuthLogin,
        (_, ["auth", "oauth", _, "start" | "callback"] | ["auth", "oauth", _, "link", "start"]) => {
            Policy::AuthLogin
        }
        (&Method::POST, ["users"]) => Policy::AuthRegister,
        (&Method::GET, ["posts"] | ["posts", _]) => Policy::ApiRead,
        (&Method::POST, ["posts"] | ["vote"]) => Policy::ApiWrite,
        (&Method::PUT | &Method::DELETE, ["posts", _]) => Policy::ApiWrite,
        // @new-resource: rate-limit-policies
        _ => return None,
    };
    Some(policy)
}

fn is_login(method: &Method, path: &str) -> bool {
    method == Method::POST && path.ends_with("/login") && policy_for(method, path).is_some()
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
        "rate_limit_exceeded",
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
        "rate_limit_backend_unavailable",
        "Rate limiting backend is unavailable",
    )
}

/// The login's target account: the form's `username` or the JSON body's `email`, as the
/// handler reads them. A body the handler will refuse names no account.
fn login_account(req: &ServiceRequest, body: &[u8]) -> Option<Principal> {
    let fields = json_or_form_body(req.request(), body).ok()?;
    let field = match fields {
        BodyFields::Form(_) => "username",
        BodyFields::Json(_) => "email",
    };
    let map = fields.into_map();
    let identity = map.get(field)?.as_str()?;
    (!identity.trim().is_empty()).then(|| Principal::account(identity))
}

/// Charges the request to its budgets before the route runs (see the module docs).
pub async fn rate_limit(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let check = req
        .app_data::<web::Data<Option<CheckRateLimit>>>()
        .and_then(|c| c.get_ref().clone());
    let policy = policy_for(req.method(), req.path());
    let (Some(check), Some(policy)) = (check, policy) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let Some(quota) = check.quota(policy) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let window = quota.window_seconds();
    let client = client_addr::of(req.request()).address;
    let mut body_error = None;
    let principals = if is_login(req.method(), req.path()) {
        let mut principals = vec![Principal::address(client)];
        // Read the body once, within the payload limit, and put it back for the handler.
        match req.extract::<web::Bytes>().await {
            Ok(body) => {
                principals.extend(login_account(&req, &body));
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
    let decision = match result {
        Ok(decision) => decision,
        Err(_) => return Ok(req.error_response(backend_unavailable())),
    };
    if let Some(decision) = decision.filter(|d| !d.allowed()) {
        return Ok(req.error_response(exceeded(decision, window)));
    }
    if let Some(error) = body_error {
        let mut res = req.error_response(error);
        if let Some(decision) = decision {
            set_headers(res.headers_mut(), decision, window);
        }
        return Ok(res);
    }
    let mut res = next.call(req).await?.map_into_boxed_body();
    if let Some(decision) = decision {
        set_headers(res.headers_mut(), decision, window);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_domain::rate_limit::{Quota, Window};

    #[test]
    fn routes_spend_the_policies_of_the_spec() {
        let cases = [
            (Method::POST, "/api/v1/login", Some(Policy::AuthLogin)),
            (
                Method::POST,
                "/api/v1/auth/refresh",
                Some(Policy::AuthLogin),
            ),
            (Method::POST, "/api/v1/auth/logout", Some(Policy::AuthLogin)),
            (
                Method::GET,
                "/api/v1/auth/oauth/google/start",
                Some(Policy::AuthLogin),
            ),
            (
                Method::POST,
                "/api/v1/auth/oauth/nope/link/start",
                Some(Policy::AuthLogin),
            ),
            (
                Method::POST,
                "/api/v1/auth/oauth/apple/callback",
                Some(Policy::AuthLogin),
            ),
            (Method::POST, "/api/v1/users", Some(Policy::AuthRegister)),
            (Method::GET, "/api/v1/posts", Some(Policy::ApiRead)),
            (Method::GET, "/api/v2/posts/abc", Some(Policy::ApiRead)),
            (Method::POST, "/api/v1/posts", Some(Policy::ApiWrite)),
            (Method::PUT, "/api/v1/posts/1", Some(Policy::ApiWrite)),
            (Method::DELETE, "/api/v1/posts/1", Some(Policy::ApiWrite)),
            (Method::POST, "/api/v1/vote", Some(Policy::ApiWrite)),
            (Method::GET, "/api/v1/users/me", None),
            (Method::GET, "/api/v1/auth/oauth/providers", None),
            (Method::POST, "/api/v1/auth/logout-all", None),
            (Method::GET, "/api/v1/auth/sessions", None),
            (Method::PATCH, "/api/v1/posts/1", None),
            (Method::GET, "/health", None),
            (Method::POST, "/api/vx/login", None),
            (Method::POST, "/api/login", None),
        ];
        for (method, path, expected) in cases {
            assert_eq!(policy_for(&method, path), expected, "{method} {path}");
        }
        assert!(is_login(&Method::POST, "/api/v1/login"));
        assert!(!is_login(&Method::POST, "/api/v1/posts/login"));
    }

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
