//! `/users`: registration and lookup.

use super::table::{JSON, MEDIA_TYPE, ParamKind, RouteDecl, VALIDATION};
use crate::dto::UserOut;
use crate::error_code::ErrorCode;
use crate::extract::{AuthUser, Fields, json_body, path_int};
use crate::problem::Problem;
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use keel_application::users::{GetUser, RegisterUser};
use keel_domain::rate_limit::Policy;
use keel_domain::user::{Email, Password, PasswordError, UserId};

/// The routes of this module (see [`super::table`]).
pub(crate) fn routes() -> Vec<RouteDecl> {
    vec![
        RouteDecl::api(Method::POST, "/users", |r| r.to(create))
            .doc("Register a user", "users")
            .limited(Policy::AuthRegister)
            .body(JSON, "UserCreate")
            .success(201, "Created", Some("UserOut"))
            .errors(&[
                (409, &[ErrorCode::EmailAlreadyRegistered]),
                VALIDATION,
                MEDIA_TYPE,
            ]),
        RouteDecl::api(Method::GET, "/users/me", |r| r.to(me))
            .doc("The authenticated user", "users")
            .bearer()
            .success(200, "OK", Some("UserOut")),
        RouteDecl::api(Method::GET, "/users/{id}", |r| r.to(get))
            .doc("A user by id", "users")
            .bearer()
            .success(200, "OK", Some("UserOut"))
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
    let map = json_body(&req, &body)?;
    let mut fields = Fields::new("body", &map);
    let email = fields.string("email").map(Email::parse);
    let email = email.and_then(|r| fields.check("email", r, |_| "value_error"));
    let password = fields.string("password").map(Password::parse);
    let password = password.and_then(|r| {
        fields.check("password", r, |e| match e {
            PasswordError::TooShort => "string_too_short",
            _ => "string_too_long",
        })
    });
    fields.finish()?;
    let (Some(email), Some(password)) = (email, password) else {
        return Err(Problem::validation(Vec::new()));
    };
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
