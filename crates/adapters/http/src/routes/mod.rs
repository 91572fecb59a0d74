//! Route handlers, thin by design: parse the request into domain types, call one use case,
//! map the outcome. Each module declares its routes next to its handlers (`routes()`), and
//! [`table`] gathers them into the one route table the router, the rate limiter, hardening and
//! the OpenAPI document are produced from.

pub(crate) mod account;
pub(crate) mod auth;
pub(crate) mod oauth;
pub(crate) mod posts;
pub(crate) mod system;
pub(crate) mod table;
pub(crate) mod users;
pub(crate) mod votes;
// @new-resource: route-modules

pub(crate) use table::RouteMeta;

use crate::extract::{VerifiedBearer, bearer_token};
use crate::problem::Problem;
use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpResponse, web};
use keel_application::auth::{Authenticate, AuthenticateError};

/// Registers the version-1 API (mounted under `/api/v1`; aliases are rewritten onto it).
pub(crate) fn configure_v1(cfg: &mut web::ServiceConfig) {
    table::register(cfg, table::Mount::Api);
}

/// Registers the routes outside the version prefix.
pub(crate) fn configure_root(cfg: &mut web::ServiceConfig) {
    table::register(cfg, table::Mount::Root);
}

/// The per-route layer: what the route's declaration asks for, around its handler — the
/// rate-limit budget, then the bearer token, then (after the handler) `no-store`.
pub(crate) async fn layer(
    meta: RouteMeta,
    mut req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if let Err(problem) = refuse_encoded_body(&req) {
        return Ok(req.error_response(problem));
    }
    let mut res = match crate::rate_limit::charge(meta, &mut req).await {
        Err(refused) => {
            let mut res = req.error_response(refused.error);
            if let Some(spent) = refused.spent {
                spent.describe(res.headers_mut());
            }
            res
        }
        Ok(spent) => {
            let mut res = match require_bearer(meta, &req) {
                Err(problem) => req.error_response(problem),
                Ok(()) => next.call(req).await?,
            };
            if let Some(spent) = spent {
                spent.describe(res.headers_mut());
            }
            res
        }
    };
    if meta.no_store {
        let headers = res.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    }
    Ok(res)
}

/// Request bodies are read as sent: a body with a `Content-Encoding` other than `identity` is
/// 415 `unsupported_media_type` before anything reads it (a request without a body is left
/// alone). (apistos compiles in actix-web's
/// default features, whose body extractors would otherwise inflate gzip, brotli and zstd bodies:
/// decompression work, and memory for zstd's window, that keel never asked for.)
fn refuse_encoded_body(req: &ServiceRequest) -> Result<(), Problem> {
    let headers = req.headers();
    let bodiless = headers
        .get(header::CONTENT_LENGTH)
        .is_none_or(|length| length.as_bytes() == b"0")
        && !headers.contains_key(header::TRANSFER_ENCODING);
    if bodiless {
        return Ok(());
    }
    for value in req.headers().get_all(header::CONTENT_ENCODING) {
        let text = value.to_str().unwrap_or("?");
        let encoded = text
            .split(',')
            .map(str::trim)
            .any(|coding| !coding.is_empty() && !coding.eq_ignore_ascii_case("identity"));
        if encoded {
            return Err(Problem::new(
                actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                crate::error_code::ErrorCode::UnsupportedMediaType,
                format!("Unsupported content encoding {text:?}: send the body uncompressed"),
            ));
        }
    }
    Ok(())
}

/// For a route that declares a bearer token: 401 unless the request carries a valid access
/// token (verified here, or already by the rate limiter), which is left for the `AuthUser`
/// extractor to load.
fn require_bearer(meta: RouteMeta, req: &ServiceRequest) -> Result<(), Problem> {
    if !meta.bearer || req.extensions().contains::<VerifiedBearer>() {
        return Ok(());
    }
    let token =
        bearer_token(req.request()).ok_or_else(|| Problem::unauthorized("Not authenticated"))?;
    let authenticate = req
        .app_data::<web::Data<Authenticate>>()
        .ok_or_else(|| Problem::for_status(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR))?;
    let verified = authenticate
        .verify(&token)
        .map_err(|e| Problem::from(AuthenticateError::InvalidToken(Some(e))))?;
    req.extensions_mut().insert(VerifiedBearer(verified));
    Ok(())
}

/// A resource whose unmatched methods answer 405 (not the app's 404 default).
pub(crate) fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

async fn method_not_allowed() -> Result<HttpResponse, crate::Problem> {
    Err(crate::Problem::for_status(
        actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
    ))
}

/// 204 No Content.
pub(crate) fn no_content() -> HttpResponse {
    HttpResponse::NoContent().finish()
}
