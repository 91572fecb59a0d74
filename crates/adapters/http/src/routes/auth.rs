//! `/login` and `/auth/*`: password login, refresh rotation, logout, sessions.

use super::no_content;
use super::table::{FORM, JSON, MEDIA_TYPE, ParamKind, RouteDecl, VALIDATION, schema};
use crate::dto::{SessionList, SessionOut, TokenOut};
use crate::error_code::ErrorCode;
use crate::extract::{AuthUser, path_uuid};
use crate::input::shape::{LoginForm, RefreshRequest};
use crate::input::{self, Credentials, RefreshToken};
use crate::observe::{LoginVerdict, Observer};
use crate::problem::Problem;
use actix_web::http::Method;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use keel_application::auth::{Login, LoginError, Logout, LogoutAll, RefreshSession};
use keel_application::sessions::{ListSessions, RevokeSession};
use keel_domain::rate_limit::Policy;
use keel_domain::session::FamilyId;

/// The routes of this module (see [`super::table`]).
pub(crate) fn routes() -> Vec<RouteDecl> {
    const INVALID_REFRESH: (u16, &[ErrorCode]) = (401, &[ErrorCode::InvalidRefreshToken]);
    vec![
        RouteDecl::api(Method::POST, "/login", |r| r.to(login))
            .doc(
                "Log in with a password (OAuth2 password flow form, or JSON {email, password})",
                "auth",
            )
            .limited_per_account(Policy::AuthLogin)
            .body(FORM, schema::<LoginForm>())
            .success(200, "OK", Some(schema::<TokenOut>()))
            .errors(&[
                (403, &[ErrorCode::InvalidCredentials]),
                VALIDATION,
                MEDIA_TYPE,
            ]),
        RouteDecl::api(Method::POST, "/auth/refresh", |r| r.to(refresh))
            .doc("Rotate a refresh token", "auth")
            .limited(Policy::AuthLogin)
            .body(JSON, schema::<RefreshRequest>())
            .success(200, "OK", Some(schema::<TokenOut>()))
            .errors(&[INVALID_REFRESH, VALIDATION, MEDIA_TYPE]),
        RouteDecl::api(Method::POST, "/auth/logout", |r| r.to(logout))
            .doc("Revoke a refresh token's session", "auth")
            .limited(Policy::AuthLogin)
            .body(JSON, schema::<RefreshRequest>())
            .success(204, "No Content", None)
            .errors(&[INVALID_REFRESH, VALIDATION, MEDIA_TYPE]),
        RouteDecl::api(Method::POST, "/auth/logout-all", |r| r.to(logout_all))
            .doc("Revoke every session of the caller", "auth")
            .bearer()
            .success(204, "No Content", None),
        RouteDecl::api(Method::GET, "/auth/sessions", |r| r.to(list_sessions))
            .doc("The caller's live sessions", "auth")
            .bearer()
            .success(200, "OK", Some(schema::<SessionList>())),
        RouteDecl::api(Method::DELETE, "/auth/sessions/{id}", |r| {
            r.to(revoke_session)
        })
        .doc("Revoke one of the caller's sessions", "auth")
        .bearer()
        .success(204, "No Content", None)
        .errors(&[(404, &[ErrorCode::SessionNotFound]), VALIDATION])
        .params(&[("id", "path", ParamKind::Uuid, true)]),
    ]
}

fn user_agent(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// `POST /login`: form `username`/`password` (OAuth2 password flow) or JSON `{email, password}`.
pub(crate) async fn login(
    req: HttpRequest,
    body: web::Bytes,
    login: web::Data<Login>,
) -> Result<HttpResponse, Problem> {
    let Credentials { identity, password } = Credentials::parse(&req, &body)?;
    let result = login
        .execute(&identity, &password, user_agent(&req).as_deref())
        .await;
    let verdict = match &result {
        Ok(_) => Some(LoginVerdict::Success),
        Err(LoginError::InvalidCredentials) => Some(LoginVerdict::InvalidCredentials),
        Err(_) => None,
    };
    if let (Some(verdict), Some(observer)) = (verdict, req.app_data::<web::Data<Observer>>()) {
        observer.0.login(verdict);
    }
    let pair = result?;
    Ok(HttpResponse::Ok().json(TokenOut::from(pair)))
}

fn refresh_token_field(req: &HttpRequest, body: &[u8]) -> Result<String, Problem> {
    input::body::<RefreshToken>(req, body).map(|t| t.0)
}

/// `POST /auth/refresh` `{refresh_token}` → a rotated pair.
pub(crate) async fn refresh(
    req: HttpRequest,
    body: web::Bytes,
    refresh: web::Data<RefreshSession>,
) -> Result<HttpResponse, Problem> {
    let token = refresh_token_field(&req, &body)?;
    let (outcome, result) = refresh.execute_with_outcome(&token).await;
    if let Some(observer) = req.app_data::<web::Data<Observer>>() {
        observer.0.refresh(outcome);
    }
    let pair = result?;
    Ok(HttpResponse::Ok().json(TokenOut::from(pair)))
}

/// `POST /auth/logout` `{refresh_token}` → 204.
pub(crate) async fn logout(
    req: HttpRequest,
    body: web::Bytes,
    logout: web::Data<Logout>,
) -> Result<HttpResponse, Problem> {
    let token = refresh_token_field(&req, &body)?;
    logout.execute(&token).await?;
    Ok(no_content())
}

/// `POST /auth/logout-all` → 204.
pub(crate) async fn logout_all(
    AuthUser(principal): AuthUser,
    logout_all: web::Data<LogoutAll>,
) -> Result<HttpResponse, Problem> {
    logout_all.execute(principal.user.id).await?;
    Ok(no_content())
}

/// `GET /auth/sessions` → the caller's live sessions.
pub(crate) async fn list_sessions(
    AuthUser(principal): AuthUser,
    list: web::Data<ListSessions>,
) -> Result<HttpResponse, Problem> {
    let sessions = list.execute(&principal).await?;
    let body = SessionList(sessions.iter().map(SessionOut::from).collect());
    Ok(HttpResponse::Ok().json(body))
}

/// `DELETE /auth/sessions/{id}` → 204.
pub(crate) async fn revoke_session(
    AuthUser(principal): AuthUser,
    req: HttpRequest,
    revoke: web::Data<RevokeSession>,
) -> Result<HttpResponse, Problem> {
    let id = FamilyId::new(path_uuid(&req, "id")?);
    revoke.execute(principal.user.id, id).await?;
    Ok(no_content())
}
