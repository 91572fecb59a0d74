//! `/users`: registration and lookup.

use super::table::{JSON, MEDIA_TYPE, ParamKind, RouteDecl, VALIDATION, schema};
use crate::dto::UserOut;
use crate::error_code::ErrorCode;
use crate::extract::{AuthUser, path_int};
use crate::input::shape::UserCreate;
use crate::input::{self, Registration};
use crate::problem::Problem;
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use keel_application::users::{GetUser, RegisterUser};
use keel_domain::rate_limit::Policy;
use keel_domain::user::UserId;

/// The routes of this module (see [`super::table`]).
pub(crate) fn routes() -> Vec<RouteDecl> {
    vec![
        RouteDecl::api(Method::POST, "/users", |r| r.to(create))
            .doc("Register a user", "users")
            .limited(Policy::AuthRegister)
            .body(JSON, schema::<UserCreate>())
            .success(201, "Created", Some(schema::<UserOut>()))
            .errors(&[
                (409, &[ErrorCode::EmailAlreadyRegistered]),
                VALIDATION,
                MEDIA_TYPE,
            ]),
        RouteDecl::api(Method::GET, "/users/me", |r| r.to(me))
            .doc("The authenticated user", "users")
            .bearer()
            .success(200, "OK", Some(schema::<UserOut>())),
        RouteDecl::api(Method::GET, "/users/{id}", |r| r.to(get))
            .doc("A user by id", "users")
            .bearer()
            .success(200, "OK", Some(schema::<UserOut>()))
            .errors(&[(404, &[ErrorCode::UserNotFound]), VALIDATION])
            .params(&[("id", "path", ParamKind::Integer, true)]),
    ]
}

/// `POST /users` `{email, password}` → 201 `UserOut`.
pub(crate) async fn create(
    req: HttpRequest,
    body: web::Bytes,
    register: web::Data<RegisterUser>,
) -> Result<HttpResponse, Problem> {
    let Registration { email, password } = input::body(&req, &body)?;
    let user = register.execute(email, password).await?;
    Ok(HttpResponse::Created().json(UserOut::from(&user)))
}

/// `GET /users/me` → the caller.
pub(crate) async fn me(AuthUser(principal): AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(UserOut::from(&principal.user))
}

/// `GET /users/{id}`.
pub(crate) async fn get(
    _caller: AuthUser,
    req: HttpRequest,
    get: web::Data<GetUser>,
) -> Result<HttpResponse, Problem> {
    let id = path_int(&req, "id")?;
    let user = get.execute(UserId::new(id)).await?;
    Ok(HttpResponse::Ok().json(UserOut::from(&user)))
}
