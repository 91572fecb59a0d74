//! CORS from `CORS_ORIGINS`, without credentials (docs/contract.md, "The edge"):
//! - a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) from an allowed
//!   origin, for an allowed method and well-formed request headers, is answered 200 here with
//!   `Access-Control-Allow-Origin` echoing the origin and the allowed methods;
//! - any other preflight is a 400 problem `cors_preflight_rejected` without CORS headers;
//! - an actual request from an allowed origin gets `Access-Control-Allow-Origin` and the
//!   exposed headers; from any other origin it is served normally, without CORS headers (the
//!   browser keeps the response from the page).
//!
//! `Access-Control-Allow-Credentials` is never sent: bearer tokens travel in headers, not
//! cookies.

use crate::middleware::{Served, problem_response};
use crate::problem::Problem;

use actix_web::dev::ServiceRequest;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpResponse, web};
use std::future::Future;

/// Methods a cross-origin page may use.
pub const ALLOWED_METHODS: &str = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT";

/// Response headers a cross-origin page may read.
pub const EXPOSED_HEADERS: &str = "Retry-After, X-Request-Id, X-API-Version, X-API-Version-Defaulted, \
    X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, RateLimit, RateLimit-Policy";

/// How long a browser may cache a preflight answer, in seconds.
pub const PREFLIGHT_MAX_AGE: &str = "600";

/// A `CORS_ORIGINS` entry that is not an origin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an origin such as https://app.example.com or http://localhost:3000 (or *)")]
pub struct InvalidOrigin(pub String);

/// The allowed origins.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CorsSettings {
    origins: Vec<String>,
    any: bool,
}

impl CorsSettings {
    /// Allows `origins`: `scheme://host[:port]` entries (a trailing `/` is ignored), or `*`
    /// for any origin.
    ///
    /// # Errors
    /// [`InvalidOrigin`] for an entry with another scheme, a path, or no host.
    pub fn new(origins: &[String]) -> Result<Self, InvalidOrigin> {
        let mut settings = Self::default();
        for entry in origins {
            let origin = entry.trim().trim_end_matches('/');
            if origin == "*" {
                settings.any = true;
                continue;
            }
            let rest = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"))
                .ok_or_else(|| InvalidOrigin(entry.clone()))?;
            if rest.is_empty() || rest.contains(['/', '?', '#', ' ', '@']) {
                return Err(InvalidOrigin(entry.clone()));
            }
            settings.origins.push(origin.to_ascii_lowercase());
        }
        Ok(settings)
    }

    /// Whether `origin` may read responses.
    #[must_use]
    pub fn allows(&self, origin: &str) -> bool {
        self.any || self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }
}

const ALLOWED: &[Method] = &[
    Method::DELETE,
    Method::GET,
    Method::HEAD,
    Method::OPTIONS,
    Method::PATCH,
    Method::POST,
    Method::PUT,
];

fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// What is wrong with a preflight, in the words of the problem's `detail`.
fn preflight_faults(cors: &CorsSettings, origin: &str, headers: &HeaderMap) -> Vec<&'static str> {
    let mut faults = Vec::new();
    if !cors.allows(origin) {
        faults.push("Disallowed CORS origin");
    }
    let method_ok = headers
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|v| v.to_str().ok())
        .and_then(|m| Method::from_bytes(m.trim().as_bytes()).ok())
        .is_some_and(|m| ALLOWED.contains(&m));
    if !method_ok {
        faults.push("Disallowed CORS method");
    }
    let headers_ok = headers
        .get_all(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .all(|v| {
            v.to_str().is_ok_and(|list| {
                list.split(',')
                    .map(str::trim)
                    .all(|h| h.is_empty() || is_token(h))
            })
        });
    if !headers_ok {
        faults.push("Disallowed CORS headers");
    }
    faults
}

fn origin_of(req: &ServiceRequest) -> Option<String> {
    req.headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Answers preflights and adds CORS headers to responses for allowed origins.
pub async fn cors<Fut: Future<Output = Served>>(
    req: ServiceRequest,
    inner: impl FnOnce(ServiceRequest) -> Fut,
) -> Served {
    let settings = req
        .app_data::<web::Data<CorsSettings>>()
        .cloned()
        .unwrap_or_default();
    let Some(origin) = origin_of(&req) else {
        return inner(req).await;
    };
    let origin_value = HeaderValue::from_str(&origin).ok();
    let is_preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if is_preflight {
        let faults = preflight_faults(&settings, &origin, req.headers());
        let response = match (faults.is_empty(), origin_value) {
            (true, Some(origin)) => {
                let mut ok = HttpResponse::Ok();
                ok.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin))
                    .insert_header((
                        header::ACCESS_CONTROL_ALLOW_METHODS,
                        HeaderValue::from_static(ALLOWED_METHODS),
                    ))
                    .insert_header((
                        header::ACCESS_CONTROL_MAX_AGE,
                        HeaderValue::from_static(PREFLIGHT_MAX_AGE),
                    ))
                    .insert_header((header::VARY, HeaderValue::from_static("Origin")));
                if let Some(requested) = req
                    .headers()
                    .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
                    .filter(|v| !v.is_empty())
                {
                    ok.insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, requested.clone()));
                }
                ok.finish()
            }
            _ => {
                let detail = if faults.is_empty() {
                    "Disallowed CORS origin".to_owned()
                } else {
                    faults.join(", ")
                };
                let problem = Problem::new(
                    StatusCode::BAD_REQUEST,
                    crate::error_code::ErrorCode::CorsPreflightRejected,
                    detail,
                );
                problem_response(&req, &problem, HttpResponse::BadRequest().finish())
            }
        };
        return Ok(req.into_response(response));
    }
    let mut res = inner(req).await?;
    let headers = res.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = origin_value.filter(|_| settings.allows(&origin)) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED_HEADERS),
        );
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(origins: &[&str]) -> CorsSettings {
        let origins: Vec<String> = origins.iter().map(|s| (*s).to_owned()).collect();
        CorsSettings::new(&origins).expect("valid")
    }

    #[test]
    fn origins_are_exact_or_any() {
        let s = settings(&["http://localhost:3000/", "https://App.example.com"]);
        assert!(s.allows("http://localhost:3000"));
        assert!(s.allows("https://app.example.com"));
        assert!(!s.allows("http://localhost:3001"));
        assert!(!s.allows("null"));
        assert!(settings(&["*"]).allows("https://anything.test"));
        for bad in ["localhost:3000", "ftp://x", "http://x/path", "https://"] {
            assert_eq!(
                CorsSettings::new(&[bad.to_owned()]),
                Err(InvalidOrigin(bad.to_owned()))
            );
        }
    }

    #[test]
    fn preflight_faults_name_what_is_disallowed() {
        let s = settings(&["http://ok.test"]);
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_static("PUT"),
        );
        h.insert(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            HeaderValue::from_static("authorization, content-type"),
        );
        assert!(preflight_faults(&s, "http://ok.test", &h).is_empty());
        assert_eq!(
            preflight_faults(&s, "http://evil.test", &h),
            ["Disallowed CORS origin"]
        );
        h.insert(
            header::ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_static("TRACE"),
        );
        h.insert(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            HeaderValue::from_static("bad header"),
        );
        assert_eq!(
            preflight_faults(&s, "http://ok.test", &h),
            ["Disallowed CORS method", "Disallowed CORS headers"]
        );
    }
}
