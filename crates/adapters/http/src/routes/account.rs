//! `/auth/verify-email*` and `/auth/password-reset*`: proving an address and recovering an
//! account with a mailed one-time token.

use super::no_content;
use super::table::{JSON, MEDIA_TYPE, RouteDecl, VALIDATION, schema};
use crate::ShutdownFlag;
use crate::error_code::ErrorCode;
use crate::extract::AuthUser;
use crate::input::shape::{PasswordResetConfirm, PasswordResetRequest, VerifyEmailRequest};
use crate::input::{self, MailedToken, ResetConfirmation, ResetRequest};
use crate::problem::Problem;
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use keel_application::account::{
    RequestPasswordReset, ResendVerification, ResetPassword, VerifyEmail,
};
use keel_domain::rate_limit::Policy;
use keel_ports::ErrorChain;
use tracing::Instrument;

/// The routes of this module (see [`super::table`]).
pub(crate) fn routes() -> Vec<RouteDecl> {
    vec![
        RouteDecl::api(Method::POST, "/auth/verify-email", |r| r.to(verify_email))
            .doc("Verify the account's email with the mailed token", "auth")
            .limited(Policy::AuthLogin)
            .body(JSON, schema::<VerifyEmailRequest>())
            .success(204, "No Content", None)
            .errors(&[
                (400, &[ErrorCode::InvalidVerificationToken]),
                VALIDATION,
                MEDIA_TYPE,
            ]),
        RouteDecl::api(Method::POST, "/auth/verify-email/resend", |r| {
            r.to(resend_verification)
        })
        .doc("Mail a new verification token to the caller", "auth")
        .bearer()
        .limited(Policy::AuthLogin)
        .success(202, "Accepted", None),
        RouteDecl::api(Method::POST, "/auth/password-reset", |r| {
            r.to(request_password_reset)
        })
        .doc(
            "Mail a password reset token (202 whether or not the address has an account)",
            "auth",
        )
        .limited_per_account(Policy::AuthLogin)
        .body(JSON, schema::<PasswordResetRequest>())
        .success(202, "Accepted", None)
        .errors(&[VALIDATION, MEDIA_TYPE]),
        RouteDecl::api(Method::POST, "/auth/password-reset/confirm", |r| {
            r.to(confirm_password_reset)
        })
        .doc(
            "Set a new password with the mailed token; ends every session of the account",
            "auth",
        )
        .limited(Policy::AuthLogin)
        .body(JSON, schema::<PasswordResetConfirm>())
        .success(204, "No Content", None)
        .errors(&[
            (400, &[ErrorCode::InvalidResetToken]),
            VALIDATION,
            MEDIA_TYPE,
        ]),
    ]
}

/// `POST /auth/verify-email` `{token}` → 204.
pub(crate) async fn verify_email(
    req: HttpRequest,
    body: web::Bytes,
    verify: web::Data<VerifyEmail>,
) -> Result<HttpResponse, Problem> {
    let MailedToken(token) = input::body(&req, &body)?;
    verify.execute(&token).await?;
    Ok(no_content())
}

/// `POST /auth/verify-email/resend` → 202.
pub(crate) async fn resend_verification(
    AuthUser(principal): AuthUser,
    resend: web::Data<ResendVerification>,
) -> Result<HttpResponse, Problem> {
    resend.execute(&principal.user).await?;
    Ok(HttpResponse::Accepted().finish())
}

/// `POST /auth/password-reset` `{email}` → 202, whatever the address.
///
/// Answered once the body is valid, before the work: the use case runs the same statements for
/// a known and an unknown address, but a known one also writes its mail event (~0.3 ms more
/// in one debug-build measurement on SQLite, not repeated in CI), so the answer does not wait
/// for it. The work is detached ([`ShutdownFlag::detach`]): shutdown waits for it (once
/// shutdown has begun the answer waits too, a timing difference confined to the drain). A store
/// failure is logged (the mail is then not sent; the client may ask again).
pub(crate) async fn request_password_reset(
    req: HttpRequest,
    body: web::Bytes,
    reset: web::Data<RequestPasswordReset>,
    shutdown: web::Data<ShutdownFlag>,
) -> Result<HttpResponse, Problem> {
    let ResetRequest { email } = input::body(&req, &body)?;
    let reset = reset.get_ref().clone();
    shutdown
        .detach(
            async move {
                if let Err(error) = reset.execute(email).await {
                    tracing::error!(error = %ErrorChain(&error), "a password reset request failed");
                }
            }
            .instrument(tracing::Span::current()),
        )
        .await;
    Ok(HttpResponse::Accepted().finish())
}

/// `POST /auth/password-reset/confirm` `{token, new_password}` → 204.
pub(crate) async fn confirm_password_reset(
    req: HttpRequest,
    body: web::Bytes,
    reset: web::Data<ResetPassword>,
) -> Result<HttpResponse, Problem> {
    let ResetConfirmation {
        token,
        new_password,
    } = input::body(&req, &body)?;
    reset.execute(&token, &new_password).await?;
    Ok(no_content())
}
