//! Cross-cutting request handling: the canonical path, request ids, API version routing, and
//! problem rendering.
//!
//! Order (outermost first): [`canonical_path`] → [`request_id`] →
//! [`crate::client_addr::client_info`] → [`crate::hardening::harden`] → [`crate::cors::cors`] →
//! [`versioning`] → [`crate::body_deadline::body_deadline`] → [`render_problems`] → routes,
//! each in its per-route layer (`routes::layer`: rate limit, bearer token, `no-store`).
//! Each stage is an async function of the request and of the stages inside it (`inner`, called
//! at most once); `build_app` nests them into one middleware (see its `edge`), so a request
//! pays for one middleware, not eight.
//! - `canonical_path` decodes the percent-encoded unreserved characters of the path
//!   (`/api/v1/log%69n` → `/api/v1/login`) before anything reads it, so every later decision
//!   sees the path the router matches.
//! - `request_id` honours a valid `X-Request-Id` or makes one, and echoes it back; it also
//!   opens the request's span, reports the request to the observer (metrics, error reports)
//!   and logs the request line.
//! - `versioning` resolves which API version a request targets, rewrites alias paths
//!   (`/api/posts` → `/api/v1/posts`) and trailing slashes before routing, remembers the path
//!   as sent (the problem `instance`), and adds `X-API-Version` (+ `-Defaulted`) headers.
//! - `render_problems` writes every error response as `application/problem+json`.

use crate::observe::{FinishedRequest, Observer, UserId};
use crate::problem::{PROBLEM_JSON, Problem};
use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Uri;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{Error, HttpMessage, HttpResponse, web};
use std::future::Future;
use std::time::Instant;
use tracing::Instrument;

/// What an edge stage answers: the response, its body boxed, or the error of a stage inside it.
pub type Served = Result<ServiceResponse<BoxBody>, Error>;

/// The request id of the current request (honoured from `X-Request-Id` or generated).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The path exactly as the client sent it, before alias rewriting.
#[derive(Debug, Clone)]
pub struct OriginalPath(pub String);

/// The API versions this server speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiVersions {
    /// Used when a request does not name a supported version.
    pub latest: String,
    /// Every version served.
    pub supported: Vec<String>,
}

impl ApiVersions {
    /// The served version named `version`, borrowed from the list (`None` when not served).
    fn supported(&self, version: &str) -> Option<&str> {
        self.supported
            .iter()
            .find(|v| *v == version)
            .map(String::as_str)
    }
}

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const X_API_VERSION: HeaderName = HeaderName::from_static("x-api-version");
const X_API_VERSION_DEFAULTED: HeaderName = HeaderName::from_static("x-api-version-defaulted");
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

fn valid_request_id(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    let ok = (1..=128).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    ok.then(|| text.to_owned())
}

/// A new request id: a UUIDv7 in its hyphenated lower-case form (encoded directly, without
/// the formatting machinery of `to_string`: this runs for nearly every request).
fn new_request_id() -> String {
    uuid::Uuid::now_v7()
        .hyphenated()
        .encode_lower(&mut uuid::Uuid::encode_buffer())
        .to_owned()
}

/// The route template a request will be routed to, predicted before routing (for the span
/// name): the path as [`versioning`] will rewrite it, matched against the app's resources.
fn predicted_route(req: &ServiceRequest) -> String {
    let versions = req.app_data::<web::Data<ApiVersions>>();
    let header = req
        .headers()
        .get(X_API_VERSION)
        .and_then(|v| v.to_str().ok());
    let path = req.path();
    let canonical = match versions.map(|v| resolve(path, header, v)) {
        Some(Route::Serve {
            rewrite: Some(rewritten),
            ..
        }) => rewritten,
        Some(Route::UnsupportedVersion) => return UNMATCHED.to_owned(),
        _ => path.to_owned(),
    };
    req.resource_map()
        .match_pattern(&canonical)
        .unwrap_or_else(|| UNMATCHED.to_owned())
}

/// The `route` of requests that matched no route.
pub const UNMATCHED: &str = "<unmatched>";

/// Whether `path` is one of the operational routes (`/health`, `/ready`, `/metrics`), whose
/// requests are traced and logged at DEBUG, not INFO.
fn is_probe(path: &str) -> bool {
    crate::routes::table::operational_paths().contains(&path.trim_end_matches('/'))
}

/// The request's server span, at `$level`; its `otel.name` is recorded by the caller.
macro_rules! request_span {
    ($level:expr, $method:expr, $id:expr) => {
        tracing::span!(
            $level,
            "HTTP request",
            otel.name = tracing::field::Empty,
            otel.kind = "server",
            http.request.method = %$method,
            http.route = tracing::field::Empty,
            http.response.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            request_id = %$id,
            user_id = tracing::field::Empty,
        )
    };
}

/// Assigns the request id, opens the request's server span (continuing the caller's W3C
/// trace), reports the request to the [`crate::observe::HttpObserver`] and logs one line per
/// request: method, route template, status, latency, request id and user id when known — at
/// INFO, except for `/health`, `/ready` and `/metrics`, whose span and line are DEBUG (probes
/// arrive every few seconds from every balancer and scraper: at INFO they would drown the logs
/// and the traces — 10 s of load on `/health` once wrote 548k lines).
pub async fn request_id<Fut: Future<Output = Served>>(
    req: ServiceRequest,
    inner: impl FnOnce(ServiceRequest) -> Fut,
) -> Served {
    let started = Instant::now();
    let observer = req
        .app_data::<web::Data<Observer>>()
        .map(|o| o.0.clone())
        .unwrap_or_else(|| Observer::default().0);
    let id = req
        .headers()
        .get(X_REQUEST_ID)
        .and_then(valid_request_id)
        .unwrap_or_else(new_request_id);
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    let probe = is_probe(req.path());
    let span = if probe {
        request_span!(tracing::Level::DEBUG, method, id)
    } else {
        request_span!(tracing::Level::INFO, method, id)
    };
    // The name needs the route predicted before routing: only worked out for a span that
    // something records (recorded before the span is entered or exported, so it is its name).
    if !span.is_disabled() {
        span.record(
            "otel.name",
            format!("{method} {}", predicted_route(&req)).as_str(),
        );
    }
    // A span nothing records has no parent to set: the caller's trace headers are read only
    // for a span that is recorded (a probe's DEBUG span is not, at the default `RUST_LOG`).
    if !span.is_disabled() {
        let header = |name: &HeaderName| req.headers().get(name).and_then(|v| v.to_str().ok());
        observer.continue_trace(&span, header(&TRACEPARENT), header(&TRACESTATE));
    }
    observer.request_started();
    let outcome = inner(req).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let (status, route, user) = match &outcome {
        Ok(res) => (
            res.status().as_u16(),
            res.request()
                .match_pattern()
                .unwrap_or_else(|| UNMATCHED.to_owned()),
            res.request().extensions().get::<UserId>().map(|u| u.0),
        ),
        Err(_) => (500, UNMATCHED.to_owned(), None),
    };
    span.record("http.route", route.as_str());
    span.record("http.response.status_code", status);
    if status >= 500 {
        span.record("otel.status_code", "ERROR");
    }
    if let Some(user) = user {
        span.record("user_id", user);
    }
    observer.request_finished(&FinishedRequest {
        method: method.as_str(),
        route: &route,
        status,
        elapsed,
        request_id: &id,
        span: &span,
    });
    span.in_scope(|| {
        if probe {
            tracing::debug!(
                request_id = %id,
                method = %method,
                route = %route,
                status,
                latency_ms = elapsed.as_secs_f64() * 1000.0,
                "request served"
            );
        } else {
            tracing::info!(
                request_id = %id,
                method = %method,
                route = %route,
                status,
                latency_ms = elapsed.as_secs_f64() * 1000.0,
                user_id = user,
                "request served"
            );
        }
    });
    let mut res = outcome?;
    if let Ok(value) = HeaderValue::try_from(id) {
        res.headers_mut().insert(X_REQUEST_ID, value);
    }
    Ok(res)
}

/// Where a request goes, as decided from its path and `X-API-Version` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route<'v> {
    /// Serve it; `rewrite` is the internal path when it differs from the one sent.
    Serve {
        /// Internal path, if rewritten.
        rewrite: Option<String>,
        /// The version answering (borrowed from the [`ApiVersions`]: nothing is copied per
        /// request).
        version: &'v str,
        /// Whether the version was inferred.
        defaulted: bool,
    },
    /// The path names a version this server does not speak.
    UnsupportedVersion,
}

/// Decides the version and internal path of a request (pure; see the module docs).
pub(crate) fn resolve<'v>(
    path: &str,
    header: Option<&str>,
    versions: &'v ApiVersions,
) -> Route<'v> {
    let trimmed = if path.len() > 1 && path.ends_with('/') {
        path.trim_end_matches('/')
    } else {
        path
    };
    let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
    let changed = |p: String| if p == path { None } else { Some(p) };
    let rest = match trimmed.strip_prefix("/api") {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ => {
            return Route::Serve {
                rewrite: changed(trimmed.to_owned()),
                version: &versions.latest,
                defaulted: true,
            };
        }
    };
    let first = rest.trim_start_matches('/').split('/').next().unwrap_or("");
    let names_version =
        first.len() > 1 && first.starts_with('v') && first[1..].bytes().all(|b| b.is_ascii_digit());
    if names_version {
        if let Some(version) = versions.supported(first) {
            return Route::Serve {
                rewrite: changed(trimmed.to_owned()),
                version,
                defaulted: false,
            };
        }
        return Route::UnsupportedVersion;
    }
    let (version, defaulted) = match header.and_then(|v| versions.supported(v)) {
        Some(v) => (v, false),
        None => (versions.latest.as_str(), true),
    };
    Route::Serve {
        rewrite: Some(format!("/api/{version}{rest}")),
        version,
        defaulted,
    }
}

fn set_path(req: &mut ServiceRequest, path: &str) {
    let head = req.head_mut();
    let mut parts = head.uri.clone().into_parts();
    let path_and_query = match head.uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    parts.path_and_query = path_and_query.parse().ok();
    if let Ok(uri) = Uri::from_parts(parts) {
        req.match_info_mut().get_mut().update(&uri);
        req.head_mut().uri = uri;
    }
}

fn version_headers(
    headers: &mut actix_web::http::header::HeaderMap,
    version: &str,
    defaulted: bool,
) {
    if let Ok(value) = HeaderValue::from_str(version) {
        headers.insert(X_API_VERSION, value);
    }
    if defaulted {
        headers.insert(X_API_VERSION_DEFAULTED, HeaderValue::from_static("true"));
    }
}

/// Routes the request to its API version (see the module docs).
pub async fn versioning<Fut: Future<Output = Served>>(
    mut req: ServiceRequest,
    inner: impl FnOnce(ServiceRequest) -> Fut,
) -> Served {
    let versions = req
        .app_data::<web::Data<ApiVersions>>()
        .cloned()
        .unwrap_or_else(|| {
            web::Data::new(ApiVersions {
                latest: "v1".to_owned(),
                supported: vec!["v1".to_owned()],
            })
        });
    let header = req
        .headers()
        .get(X_API_VERSION)
        .and_then(|v| v.to_str().ok());
    match resolve(req.path(), header, &versions) {
        Route::UnsupportedVersion => {
            let problem = Problem::for_status(actix_web::http::StatusCode::NOT_FOUND);
            let mut res = problem_response(&req, &problem, HttpResponse::NotFound().finish());
            version_headers(res.headers_mut(), &versions.latest, true);
            Ok(req.into_response(res))
        }
        Route::Serve {
            rewrite,
            version,
            defaulted,
        } => {
            if let Some(path) = rewrite {
                // The path as sent stays the problem `instance` (unless `canonical_path`
                // already kept an earlier spelling).
                if !req.extensions().contains::<OriginalPath>() {
                    let sent = req.path().to_owned();
                    req.extensions_mut().insert(OriginalPath(sent));
                }
                set_path(&mut req, &path);
            }
            let mut res = inner(req).await?;
            version_headers(res.headers_mut(), version, defaulted);
            Ok(res)
        }
    }
}

/// The canonical form of a request path: percent-encoded unreserved characters (RFC 3986
/// `ALPHA / DIGIT / "-" / "." / "_" / "~"`) decoded, every other escape kept with upper-case
/// hex digits; `None` when the path is already canonical.
///
/// The router decodes escapes before matching, so `/api/v1/log%69n` reaches the login handler:
/// rewriting the path into this form first means the middleware and the router agree on what
/// a request is (decoding only unreserved characters keeps the meaning of the path: `%2F`
/// stays a byte of a segment, never a separator).
pub(crate) fn canonical(path: &str) -> Option<String> {
    if !path.contains('%') {
        return None;
    }
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape = (bytes[i] == b'%')
            .then(|| Some((hex(*bytes.get(i + 1)?)?, hex(*bytes.get(i + 2)?)?)))
            .flatten();
        match escape {
            Some((high, low)) => {
                let byte = u8::try_from(high * 16 + low).unwrap_or(b'%');
                if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                    out.push(byte);
                } else {
                    out.push(b'%');
                    out.push(bytes[i + 1].to_ascii_uppercase());
                    out.push(bytes[i + 2].to_ascii_uppercase());
                }
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    let out = String::from_utf8(out).ok()?;
    (out != path).then_some(out)
}

/// Rewrites the request path into its canonical form (see `canonical`: percent-encoded unreserved characters decoded) before any other
/// middleware reads it; the path as sent stays the problem `instance`.
pub async fn canonical_path<Fut: Future<Output = Served>>(
    mut req: ServiceRequest,
    inner: impl FnOnce(ServiceRequest) -> Fut,
) -> Served {
    if let Some(path) = canonical(req.path()) {
        let sent = req.path().to_owned();
        req.extensions_mut().insert(OriginalPath(sent));
        set_path(&mut req, &path);
    }
    inner(req).await
}

/// Builds the problem+json response for `problem`, keeping `original`'s extra headers.
pub(crate) fn problem_response(
    req: &ServiceRequest,
    problem: &Problem,
    original: HttpResponse,
) -> HttpResponse {
    let (instance, trace_id) = problem_context(req.request());
    build_problem_response(problem, &instance, trace_id.as_deref(), &original)
}

/// A problem's `instance` (the path as sent) and `trace_id` (the request id) for `req`.
pub(crate) fn problem_context(req: &actix_web::HttpRequest) -> (String, Option<String>) {
    let extensions = req.extensions();
    let instance = extensions
        .get::<OriginalPath>()
        .map_or_else(|| req.path().to_owned(), |p| p.0.clone());
    let trace_id = extensions.get::<RequestId>().map(|r| r.0.clone());
    (instance, trace_id)
}

fn build_problem_response(
    problem: &Problem,
    instance: &str,
    trace_id: Option<&str>,
    original: &HttpResponse,
) -> HttpResponse {
    let mut builder = HttpResponse::build(problem.status());
    for (name, value) in original.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            builder.append_header((name.clone(), value.clone()));
        }
    }
    builder
        .content_type(PROBLEM_JSON)
        .body(problem.body(instance, trace_id).to_string())
}

/// Writes every error response (status ≥ 400) as `application/problem+json`.
pub async fn render_problems<Fut: Future<Output = Served>>(
    req: ServiceRequest,
    inner: impl FnOnce(ServiceRequest) -> Fut,
) -> Served {
    // Handler and extractor errors arrive as responses carrying their error; an `Err` here
    // would come from a middleware, none of which fails. (The request must not be cloned
    // before routing: actix mutates it in place.)
    let res = inner(req).await?;
    if res.status().as_u16() < 400 {
        return Ok(res);
    }
    let problem = match res.response().error().and_then(|e| e.as_error::<Problem>()) {
        Some(problem) => problem.clone(),
        None => {
            if res.status().is_server_error() {
                let cause = res
                    .response()
                    .error()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                tracing::error!(status = res.status().as_u16(), error = %cause, "request failed outside a handler");
            }
            Problem::for_status(res.status())
        }
    };
    let (http_req, original) = res.into_parts();
    let (instance, trace_id) = problem_context(&http_req);
    let response = build_problem_response(&problem, &instance, trace_id.as_deref(), &original);
    Ok(ServiceResponse::new(http_req, response))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versions() -> ApiVersions {
        ApiVersions {
            latest: "v1".into(),
            supported: vec!["v1".into()],
        }
    }

    fn serve(rewrite: Option<&str>, defaulted: bool) -> Route<'static> {
        Route::Serve {
            rewrite: rewrite.map(str::to_owned),
            version: "v1",
            defaulted,
        }
    }

    #[test]
    fn canonical_paths_are_served_as_sent() {
        assert_eq!(
            resolve("/api/v1/posts", None, &versions()),
            serve(None, false)
        );
        assert_eq!(
            resolve("/api/v1/posts/", None, &versions()),
            serve(Some("/api/v1/posts"), false)
        );
    }

    #[test]
    fn alias_paths_go_to_the_latest_or_the_header_version() {
        assert_eq!(
            resolve("/api/posts", None, &versions()),
            serve(Some("/api/v1/posts"), true)
        );
        assert_eq!(
            resolve("/api/posts/", Some("v1"), &versions()),
            serve(Some("/api/v1/posts"), false)
        );
        assert_eq!(
            resolve("/api/vote", Some("v9"), &versions()),
            serve(Some("/api/v1/vote"), true)
        );
        assert_eq!(
            resolve("/api", None, &versions()),
            serve(Some("/api/v1"), true)
        );
    }

    #[test]
    fn unsupported_path_versions_are_refused_and_the_path_beats_the_header() {
        assert_eq!(
            resolve("/api/v2/posts", Some("v1"), &versions()),
            Route::UnsupportedVersion
        );
        let two = ApiVersions {
            latest: "v1".into(),
            supported: vec!["v1".into(), "v2".into()],
        };
        assert_eq!(
            resolve("/api/v2/posts", Some("v1"), &two),
            Route::Serve {
                rewrite: None,
                version: "v2",
                defaulted: false
            }
        );
    }

    #[test]
    fn paths_outside_the_api_are_defaulted() {
        assert_eq!(resolve("/health", None, &versions()), serve(None, true));
        assert_eq!(resolve("/", None, &versions()), serve(None, true));
        assert_eq!(resolve("/apix/v1", None, &versions()), serve(None, true));
        assert_eq!(
            resolve("/docs/", None, &versions()),
            serve(Some("/docs"), true)
        );
    }

    #[test]
    fn paths_are_canonical_once_unreserved_escapes_are_decoded() {
        assert_eq!(canonical("/api/v1/login"), None);
        assert_eq!(
            canonical("/api/v1/log%69n").as_deref(),
            Some("/api/v1/login")
        );
        assert_eq!(
            canonical("/%61pi/v1/users/me").as_deref(),
            Some("/api/v1/users/me")
        );
        assert_eq!(
            canonical("/api/v1/%4C%6c%6C").as_deref(),
            Some("/api/v1/Lll"),
            "either case of hex digit"
        );
        assert_eq!(
            canonical("/a%2fb%2Fc%20d%7e").as_deref(),
            Some("/a%2Fb%2Fc%20d~")
        );
        assert_eq!(canonical("/a%2Fb"), None, "reserved escapes stay");
        assert_eq!(canonical("/a%zz%4"), None, "broken escapes stay as sent");
        assert_eq!(canonical("/%"), None);
        assert_eq!(canonical("/%e2%82%ac").as_deref(), Some("/%E2%82%AC"));
    }

    #[test]
    fn new_request_ids_are_hyphenated_lower_case_uuid_v7s() {
        let id = new_request_id();
        let parsed = uuid::Uuid::parse_str(&id).expect("a uuid");
        assert_eq!(parsed.get_version_num(), 7);
        assert_eq!(id, parsed.hyphenated().to_string());
        assert_ne!(new_request_id(), id);
    }

    #[test]
    fn request_ids_are_bounded_and_plain() {
        assert_eq!(
            valid_request_id(&HeaderValue::from_static("abc-123")),
            Some("abc-123".into())
        );
        assert_eq!(valid_request_id(&HeaderValue::from_static("a b")), None);
        assert_eq!(
            valid_request_id(&HeaderValue::from_str(&"a".repeat(129)).expect("ascii")),
            None
        );
    }
}
