//! Operational routes outside the version prefix: liveness, readiness, the OpenAPI document and
//! its viewers, and the root (the GUI, or a message when the frontend pack is disabled).

use super::table::{RouteDecl, schema};
use crate::dto::Message;
use crate::error_code::ErrorCode;
use crate::problem::Problem;
use crate::{HttpSettings, Readiness, ShutdownFlag};
use actix_web::http::Method;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use apistos::ApiComponent;
use schemars::JsonSchema;
use serde::Serialize;

/// The routes of this module (see [`super::table`]).
pub(crate) fn routes() -> Vec<RouteDecl> {
    vec![
        RouteDecl::root(Method::GET, "/health", |r| r.to(health))
            .doc("Liveness (no I/O)", "operations")
            .operational()
            .success(200, "OK", Some(schema::<Health>())),
        RouteDecl::root(Method::GET, "/ready", |r| r.to(ready))
            .doc(
                "Readiness: the database (and Redis when required) answer, and shutdown has not begun",
                "operations",
            )
            .operational()
            .success(200, "OK", Some(schema::<Ready>()))
            .errors(&[(503, &[ErrorCode::ServiceNotReady])]),
        RouteDecl::root(Method::GET, "/metrics", |r| r.to(metrics)).operational(),
        RouteDecl::root(Method::GET, "/openapi.json", |r| r.to(openapi)),
        RouteDecl::root(Method::GET, "/docs", |r| r.to(docs)),
        RouteDecl::root(Method::GET, "/docs/assets/{file}", |r| r.to(docs_asset)),
        RouteDecl::root(Method::GET, "/redoc", |r| r.to(redoc)),
        RouteDecl::root(Method::GET, "/", |r| r.to(root)),
        RouteDecl::root(Method::GET, "/static/{file}", |r| {
            r.to(crate::frontend::asset)
        }),
    ]
}

/// `Health`: the process is alive.
#[derive(Serialize, ApiComponent, JsonSchema)]
struct Health {
    #[schemars(schema_with = "crate::dto::schema::ok")]
    status: &'static str,
}

/// `Ready`: every required dependency answered.
#[derive(Serialize, ApiComponent, JsonSchema)]
struct Ready {
    #[schemars(schema_with = "crate::dto::schema::ok")]
    status: &'static str,
    checks: ReadyChecks,
}

/// `ReadyChecks`: whether each dependency answered (`redis` is true when Redis is not
/// configured).
#[derive(Serialize, ApiComponent, JsonSchema)]
struct ReadyChecks {
    database: bool,
    redis: bool,
}

/// The body of every `/health` answer: [`Health`] serialised, kept as bytes (the route is
/// polled by every balancer and answers at the rate of the network stack; a test holds it
/// equal to the serialisation).
const HEALTH_BODY: &[u8] = br#"{"status":"ok"}"#;

/// `GET /health`: the process is alive (no I/O).
pub(crate) async fn health() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(HeaderValue::from_static("application/json"))
        .body(HEALTH_BODY)
}

/// `GET /ready`: 200 when every required dependency answers and shutdown has not begun.
pub(crate) async fn ready(
    readiness: web::Data<dyn Readiness>,
    shutdown: web::Data<ShutdownFlag>,
) -> Result<HttpResponse, Problem> {
    let report = readiness.check().await;
    let checks = ReadyChecks {
        database: report.database,
        redis: report.redis,
    };
    if report.ready && !shutdown.is_set() {
        return Ok(HttpResponse::Ok().json(Ready {
            status: "ok",
            checks,
        }));
    }
    Err(Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::ServiceNotReady,
        "Service dependencies are not ready",
    )
    .with_member("checks", serde_json::to_value(checks).unwrap_or_default()))
}

/// `GET /metrics`: the Prometheus text exposition, when the observer serves metrics
/// (`METRICS_ENABLED`); a 404 problem otherwise.
pub(crate) async fn metrics(
    observer: web::Data<crate::observe::Observer>,
) -> Result<HttpResponse, Problem> {
    match observer.0.metrics() {
        Some((body, content_type)) => Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
            .content_type(content_type)
            .body(body)),
        None => Err(Problem::for_status(StatusCode::NOT_FOUND)),
    }
}

/// `GET /openapi.json`.
pub(crate) async fn openapi(document: web::Data<crate::openapi::Document>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document.json.clone())
}

/// `GET /`: the browser GUI when the frontend pack is enabled; a message otherwise.
pub(crate) async fn root(req: HttpRequest, settings: web::Data<HttpSettings>) -> HttpResponse {
    if settings.frontend_enabled {
        return crate::frontend::index(&req);
    }
    HttpResponse::Ok().json(Message::new(
        "keel API: see /docs for the interactive documentation",
    ))
}

const SWAGGER_PAGE: &str = include_str!("../../assets/docs.html");
const REDOC_PAGE: &str = include_str!("../../assets/redoc.html");

fn html(page: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        .content_type("text/html; charset=utf-8")
        .body(page)
}

/// `GET /docs`: Swagger UI.
pub(crate) async fn docs() -> HttpResponse {
    html(SWAGGER_PAGE)
}

/// `GET /redoc`: ReDoc.
pub(crate) async fn redoc() -> HttpResponse {
    html(REDOC_PAGE)
}

/// `GET /docs/assets/{file}`: the vendored viewer files, embedded at compile time.
pub(crate) async fn docs_asset(path: web::Path<String>) -> Result<HttpResponse, Problem> {
    let (body, content_type): (&'static [u8], &str) = match path.as_str() {
        "swagger-ui-bundle.js" => (
            include_bytes!("../../assets/vendor/swagger-ui-bundle.js"),
            "text/javascript; charset=utf-8",
        ),
        "swagger-ui.css" => (
            include_bytes!("../../assets/vendor/swagger-ui.css"),
            "text/css; charset=utf-8",
        ),
        "redoc.standalone.js" => (
            include_bytes!("../../assets/vendor/redoc.standalone.js"),
            "text/javascript; charset=utf-8",
        ),
        "docs-init.js" => (
            include_bytes!("../../assets/docs-init.js"),
            "text/javascript; charset=utf-8",
        ),
        _ => return Err(Problem::for_status(StatusCode::NOT_FOUND)),
    };
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=86400"),
        ))
        .content_type(content_type)
        .body(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::documented::assert_documented;

    #[test]
    fn the_health_body_is_the_health_type_serialised() {
        let serialised = serde_json::to_vec(&Health { status: "ok" }).expect("serialises");
        assert_eq!(HEALTH_BODY, serialised.as_slice());
    }

    #[test]
    fn the_probes_bodies_are_in_the_document() {
        assert_documented(&Health { status: "ok" });
        assert_documented(&Ready {
            status: "ok",
            checks: ReadyChecks {
                database: true,
                redis: true,
            },
        });
    }
}
