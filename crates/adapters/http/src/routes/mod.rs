//! Route handlers, thin by design: parse the request into domain types, call one use case,
//! map the outcome. Every route of SPEC §3 (OAuth aside) lives under [`configure_v1`].

pub(crate) mod auth;
pub(crate) mod oauth;
pub(crate) mod posts;
pub(crate) mod system;
pub(crate) mod users;
pub(crate) mod votes;
// @new-resource: route-modules

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, HttpResponseBuilder, web};

/// Registers the version-1 API (mounted under `/api/v1`; aliases are rewritten onto it).
pub(crate) fn configure_v1(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/users").route(web::post().to(users::create)))
        .service(resource("/users/me").route(web::get().to(users::me)))
        .service(resource("/users/{id}").route(web::get().to(users::get)))
        .service(resource("/login").route(web::post().to(auth::login)))
        .service(resource("/auth/refresh").route(web::post().to(auth::refresh)))
        .service(resource("/auth/logout").route(web::post().to(auth::logout)))
        .service(resource("/auth/logout-all").route(web::post().to(auth::logout_all)))
        .service(resource("/auth/sessions").route(web::get().to(auth::list_sessions)))
        .service(resource("/auth/sessions/{id}").route(web::delete().to(auth::revoke_session)))
        .service(resource("/auth/oauth/providers").route(web::get().to(oauth::providers)))
        .service(resource("/auth/oauth/{provider}/start").route(web::get().to(oauth::start)))
        .service(
            resource("/auth/oauth/{provider}/link/start").route(web::post().to(oauth::link_start)),
        )
        .service(
            resource("/auth/oauth/{provider}/callback")
                .route(web::get().to(oauth::callback))
                .route(web::post().to(oauth::callback)),
        )
        .service(
            resource("/posts")
                .route(web::get().to(posts::list))
                .route(web::post().to(posts::create)),
        )
        .service(
            resource("/posts/{id}")
                .route(web::get().to(posts::get))
                .route(web::put().to(posts::update))
                .route(web::delete().to(posts::delete)),
        )
        .service(resource("/vote").route(web::post().to(votes::vote)));
    // @new-resource: route-configure
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

/// A response builder for bodies that carry tokens: never cached anywhere.
pub(crate) fn no_store(mut builder: HttpResponseBuilder) -> HttpResponseBuilder {
    builder
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")));
    builder
}

/// 204 No Content.
pub(crate) fn no_content() -> HttpResponse {
    HttpResponse::NoContent().finish()
}

/// The error `type` of a text-bound violation.
pub(crate) fn text_kind(e: &keel_domain::post::TextError) -> &'static str {
    match e {
        keel_domain::post::TextError::Empty => "string_too_short",
        _ => "string_too_long",
    }
}
