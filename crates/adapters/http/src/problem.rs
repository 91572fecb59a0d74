//! RFC 9457 problem details: the one place where failures become HTTP responses.
//!
//! Handlers return [`Problem`]; use-case errors convert into it through the `From` impls at the
//! bottom of this module, so every outcome has exactly one status, `error_code` and `detail`.
//! The body is written by [`crate::middleware::render_problems`], which knows the request path
//! (`instance`) and request id (`trace_id`), and which also turns responses produced outside the
//! handlers (unknown route, wrong method, oversized payload, …) into problems.

use crate::error_code::ErrorCode;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use apistos::ApiComponent;
use keel_application::account::{ResetPasswordError, VerifyEmailError};
use keel_application::auth::{AuthenticateError, LoginError, LogoutError, RefreshError};
use keel_application::posts::PostError;
use keel_application::sessions::RevokeSessionError;
use keel_application::users::{GetUserError, RegisterError};
use keel_application::votes::VoteError;
use keel_domain::vote::VoteRuleError;
use keel_ports::{ErrorChain, StoreError};
use schemars::JsonSchema;
use serde::Serialize;
use std::fmt;

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One failed field of a request (`loc` as in the original contract: `["body","title"]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ApiComponent, JsonSchema)]
pub struct FieldError {
    /// Where: `body`, `query` or `path`, then the field name.
    pub loc: Vec<String>,
    /// Human-readable message.
    pub msg: String,
    /// Machine-readable kind (`missing`, `string_too_short`, `int_parsing`, …).
    #[serde(rename = "type")]
    pub kind: String,
}

impl FieldError {
    /// A field error at `loc`.
    pub fn new(loc: &[&str], msg: impl Into<String>, kind: &str) -> Self {
        Self {
            loc: loc.iter().map(|s| (*s).to_owned()).collect(),
            msg: msg.into(),
            kind: kind.to_owned(),
        }
    }
}

/// `Problem`: the body of every error response, RFC 9457 members with a stable `error_code`
/// and the request's `trace_id`; a problem may carry members of its own besides (`checks` on
/// a readiness problem).
// `Problem::body` writes it, and the OpenAPI component is derived from it.
#[derive(Debug, Serialize, ApiComponent, JsonSchema)]
#[serde(rename = "Problem")]
pub struct ProblemBody {
    #[serde(rename = "type")]
    #[schemars(example = "about_blank")]
    kind: &'static str,
    title: &'static str,
    #[schemars(schema_with = "crate::dto::schema::integer")]
    status: u16,
    detail: String,
    instance: String,
    #[schemars(
        with = "String",
        description = "Stable and machine-readable: one of `ErrorCode` (each operation lists the codes it answers in `x-error-codes`). New codes may be added, so a client must accept one it does not know."
    )]
    error_code: ErrorCode,
    // Absent rather than null when unknown (`default`: not required, no `nullable`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    trace_id: Option<String>,
}

fn about_blank() -> &'static str {
    "about:blank"
}

/// `ValidationProblem`: the body of a 422, a `Problem` listing the failed fields in `errors`.
#[derive(Debug, Serialize, ApiComponent, JsonSchema)]
pub struct ValidationProblem {
    #[serde(flatten)]
    problem: ProblemBody,
    errors: Vec<FieldError>,
}

/// An error response: status, stable `error_code`, `detail`, optional field errors and extra
/// headers.
#[derive(Debug, Clone)]
pub struct Problem {
    status: StatusCode,
    error_code: ErrorCode,
    detail: String,
    extra: Box<Extra>,
}

/// The rarely used parts, boxed so `Result<_, Problem>` stays small.
#[derive(Debug, Clone, Default)]
struct Extra {
    errors: Option<Vec<FieldError>>,
    headers: Vec<(HeaderName, HeaderValue)>,
    members: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Problem {
    /// A problem with this status, code and detail.
    pub fn new(status: StatusCode, error_code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            error_code,
            detail: detail.into(),
            extra: Box::default(),
        }
    }

    /// 422 `validation_error` listing the failed fields.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let mut problem = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ValidationError,
            "Request validation failed",
        );
        problem.extra.errors = Some(errors);
        problem
    }

    /// 401 `invalid_credentials` with `WWW-Authenticate: Bearer`.
    pub fn unauthorized(detail: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidCredentials,
            detail,
        )
    }

    /// 500 `internal_error`; the cause is logged, never shown.
    pub fn internal(cause: &dyn std::error::Error) -> Self {
        tracing::error!(error = %ErrorChain(cause), "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::InternalError,
            "Internal Server Error",
        )
    }

    /// 503 `service_unavailable` for an unreachable dependency; the cause is logged.
    pub fn unavailable(cause: &dyn std::error::Error) -> Self {
        tracing::error!(error = %ErrorChain(cause), "dependency unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ServiceUnavailable,
            "Service temporarily unavailable",
        )
    }

    /// The problem for a status that no handler described (routing errors, payload limits…).
    pub fn for_status(status: StatusCode) -> Self {
        let code = match status.as_u16() {
            400 => ErrorCode::BadRequest,
            401 => ErrorCode::InvalidCredentials,
            403 => ErrorCode::Forbidden,
            404 => ErrorCode::NotFound,
            405 => ErrorCode::MethodNotAllowed,
            406 => ErrorCode::NotAcceptable,
            408 => ErrorCode::RequestTimeout,
            411 => ErrorCode::LengthRequired,
            413 => ErrorCode::PayloadTooLarge,
            414 => ErrorCode::UriTooLong,
            415 => ErrorCode::UnsupportedMediaType,
            422 => ErrorCode::ValidationError,
            429 => ErrorCode::RateLimitExceeded,
            431 => ErrorCode::RequestHeaderFieldsTooLarge,
            503 => ErrorCode::ServiceUnavailable,
            s if s >= 500 => ErrorCode::InternalError,
            _ => ErrorCode::HttpError,
        };
        Self::new(status, code, status.canonical_reason().unwrap_or("Error"))
    }

    /// Combines two validation problems into one listing both sets of field errors; for any
    /// other pair, the first wins.
    #[must_use]
    pub fn merge(mut self, other: Problem) -> Self {
        if let (Some(mine), Some(theirs)) = (self.extra.errors.as_mut(), other.extra.errors) {
            mine.extend(theirs);
        }
        self
    }

    /// Adds a response header.
    #[must_use]
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.extra.headers.push((name, value));
        self
    }

    /// Adds a member to the body (e.g. `checks` on a readiness problem).
    #[must_use]
    pub fn with_member(mut self, name: &str, value: serde_json::Value) -> Self {
        self.extra
            .members
            .get_or_insert_with(serde_json::Map::new)
            .insert(name.to_owned(), value);
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable error code.
    pub fn error_code(&self) -> ErrorCode {
        self.error_code
    }

    /// The body, given the request path and request id: a [`ProblemBody`], a
    /// [`ValidationProblem`] when the problem lists field errors, plus its own members.
    pub fn body(&self, instance: &str, trace_id: Option<&str>) -> serde_json::Value {
        let problem = ProblemBody {
            kind: about_blank(),
            title: self.status.canonical_reason().unwrap_or("Error"),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            instance: instance.to_owned(),
            error_code: self.error_code,
            trace_id: trace_id.map(str::to_owned),
        };
        let body = match &self.extra.errors {
            Some(errors) => serde_json::to_value(ValidationProblem {
                problem,
                errors: errors.clone(),
            }),
            None => serde_json::to_value(problem),
        };
        let mut body = body.unwrap_or_default();
        if let (Some(map), Some(members)) = (body.as_object_mut(), &self.extra.members) {
            for (k, v) in members {
                map.insert(k.clone(), v.clone());
            }
        }
        body
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.error_code,
            self.detail
        )
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    /// The headers only: the body is written by the problem renderer, which knows the request.
    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        for (name, value) in &self.extra.headers {
            response.insert_header((name.clone(), value.clone()));
        }
        response.content_type(PROBLEM_JSON).finish()
    }
}

// Every use-case error maps here, variant by variant and without a wildcard arm: a new variant
// does not compile until it has its HTTP answer.

impl From<StoreError> for Problem {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(_) => Self::unavailable(&error),
            StoreError::Conflict | StoreError::Missing | StoreError::Unexpected(_) => {
                Self::internal(&error)
            }
        }
    }
}

impl From<AuthenticateError> for Problem {
    fn from(error: AuthenticateError) -> Self {
        match error {
            AuthenticateError::InvalidToken(_) => {
                Self::unauthorized("Could not validate credentials")
            }
            AuthenticateError::Store(e) => e.into(),
        }
    }
}

impl From<RegisterError> for Problem {
    fn from(error: RegisterError) -> Self {
        match error {
            RegisterError::EmailAlreadyRegistered => Self::new(
                StatusCode::CONFLICT,
                ErrorCode::EmailAlreadyRegistered,
                "Email is already registered",
            ),
            RegisterError::Hash(e) => Self::internal(&e),
            RegisterError::Store(e) => e.into(),
        }
    }
}

impl From<VerifyEmailError> for Problem {
    fn from(error: VerifyEmailError) -> Self {
        match error {
            VerifyEmailError::InvalidToken => Self::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidVerificationToken,
                "Invalid or expired verification token",
            ),
            VerifyEmailError::Store(e) => e.into(),
        }
    }
}

impl From<ResetPasswordError> for Problem {
    fn from(error: ResetPasswordError) -> Self {
        match error {
            ResetPasswordError::InvalidToken => Self::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidResetToken,
                "Invalid or expired password reset token",
            ),
            ResetPasswordError::Hash(e) => Self::internal(&e),
            ResetPasswordError::Store(e) => e.into(),
        }
    }
}

impl From<GetUserError> for Problem {
    fn from(error: GetUserError) -> Self {
        match error {
            GetUserError::NotFound(id) => Self::new(
                StatusCode::NOT_FOUND,
                ErrorCode::UserNotFound,
                format!("User with id: {id} does not exist"),
            ),
            GetUserError::Store(e) => e.into(),
        }
    }
}

impl From<LoginError> for Problem {
    fn from(error: LoginError) -> Self {
        match error {
            LoginError::InvalidCredentials => Self::new(
                StatusCode::FORBIDDEN,
                ErrorCode::InvalidCredentials,
                "Invalid Credentials",
            ),
            LoginError::Hash(e) => Self::internal(&e),
            LoginError::Token(e) => Self::internal(&e),
            LoginError::Store(e) => e.into(),
        }
    }
}

fn invalid_refresh_token() -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        ErrorCode::InvalidRefreshToken,
        "Could not validate refresh token",
    )
}

impl From<RefreshError> for Problem {
    fn from(error: RefreshError) -> Self {
        match error {
            RefreshError::InvalidRefreshToken => invalid_refresh_token(),
            RefreshError::Token(e) => Self::internal(&e),
            RefreshError::Store(e) => e.into(),
        }
    }
}

impl From<LogoutError> for Problem {
    fn from(error: LogoutError) -> Self {
        match error {
            LogoutError::InvalidRefreshToken => invalid_refresh_token(),
            LogoutError::Store(e) => e.into(),
        }
    }
}

impl From<RevokeSessionError> for Problem {
    fn from(error: RevokeSessionError) -> Self {
        match error {
            RevokeSessionError::NotFound(id) => Self::new(
                StatusCode::NOT_FOUND,
                ErrorCode::SessionNotFound,
                format!("Session {id} does not exist"),
            ),
            RevokeSessionError::Store(e) => e.into(),
        }
    }
}

/// Post errors read differently on get (`was not found`) and on update/delete (`does not
/// exist`): the original contract's texts.
pub(crate) fn post_problem(error: PostError, on_read: bool) -> Problem {
    match error {
        PostError::NotFound(id) if on_read => Problem::new(
            StatusCode::NOT_FOUND,
            ErrorCode::PostNotFound,
            format!("post with id: {id} was not found"),
        ),
        PostError::NotFound(id) => Problem::new(
            StatusCode::NOT_FOUND,
            ErrorCode::PostNotFound,
            format!("post with id: {id} does not exist"),
        ),
        PostError::NotOwner(_) => Problem::new(
            StatusCode::FORBIDDEN,
            ErrorCode::NotPostOwner,
            "Not authorized to perform requested action",
        ),
        PostError::Store(e) => e.into(),
    }
}

impl From<VoteError> for Problem {
    fn from(error: VoteError) -> Self {
        match error {
            VoteError::PostNotFound(id) => Self::new(
                StatusCode::NOT_FOUND,
                ErrorCode::PostNotFound,
                format!("Post with id: {id} does not exist"),
            ),
            VoteError::Rule(VoteRuleError::AlreadyVoted { user, post }) => Self::new(
                StatusCode::CONFLICT,
                ErrorCode::AlreadyVoted,
                format!("user {user} has already voted on post {post}"),
            ),
            VoteError::Rule(VoteRuleError::VoteNotFound) => Self::new(
                StatusCode::NOT_FOUND,
                ErrorCode::VoteNotFound,
                "Vote does not exist",
            ),
            VoteError::Store(e) => e.into(),
        }
    }
}

impl From<keel_application::oauth::ProviderLookupError> for Problem {
    fn from(error: keel_application::oauth::ProviderLookupError) -> Self {
        use keel_application::oauth::ProviderLookupError as E;
        let code = match &error {
            E::Unsupported(_) => ErrorCode::OauthProviderUnsupported,
            E::NotConfigured(_) => ErrorCode::OauthProviderNotConfigured,
        };
        Self::new(StatusCode::NOT_FOUND, code, error.to_string())
    }
}

/// The problem for a provider that could not produce an identity; the cause is logged.
fn provider_problem(error: &keel_ports::ProviderError) -> Problem {
    use keel_ports::ProviderError as E;
    tracing::warn!(error = %ErrorChain(error), "OAuth provider call failed");
    let (status, code, detail) = match error {
        E::ExchangeFailed(_) => (
            StatusCode::BAD_REQUEST,
            ErrorCode::OauthExchangeFailed,
            "OAuth code exchange failed",
        ),
        E::InvalidTokenResponse(_) => (
            StatusCode::BAD_GATEWAY,
            ErrorCode::OauthInvalidTokenResponse,
            "OAuth provider returned an invalid token response",
        ),
        E::ProfileFetchFailed(_) => (
            StatusCode::BAD_GATEWAY,
            ErrorCode::OauthProfileFetchFailed,
            "Could not fetch the OAuth profile",
        ),
        E::Unreachable(_) => (
            StatusCode::BAD_GATEWAY,
            ErrorCode::OauthProviderUnreachable,
            "OAuth provider is unreachable",
        ),
    };
    Problem::new(status, code, detail)
}

impl From<keel_application::oauth::StartError> for Problem {
    fn from(error: keel_application::oauth::StartError) -> Self {
        use keel_application::oauth::StartError as E;
        match error {
            E::Provider(e) => e.into(),
            E::Unreachable(e) => provider_problem(&e),
            E::Store(e) => e.into(),
        }
    }
}

fn invalid_state(detail: &str) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::InvalidOauthState,
        detail,
    )
}

impl From<keel_application::oauth::CallbackError> for Problem {
    fn from(error: keel_application::oauth::CallbackError) -> Self {
        use keel_application::oauth::CallbackError as E;
        use keel_domain::oauth::LinkRefusal as R;
        match error {
            E::MissingState => invalid_state("OAuth callback is missing state"),
            E::InvalidState(_) => invalid_state("Invalid OAuth state"),
            E::Provider(e) => e.into(),
            E::ProviderDenied { message, .. } => Self::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::OauthProviderError,
                message,
            ),
            E::CodeMissing => Self::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::OauthCodeMissing,
                "OAuth callback is missing code",
            ),
            E::Exchange(e) => provider_problem(&e),
            E::Refused(R::EmailRequired) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::OauthEmailRequired,
                "OAuth provider did not return an email address",
            )
            // Every 422 carries `errors` (the documented ValidationProblem shape).
            .with_member("errors", serde_json::json!([])),
            E::Refused(R::EmailUnverified) => Self::new(
                StatusCode::CONFLICT,
                ErrorCode::OauthEmailUnverified,
                "OAuth provider email is not verified; sign in and link the provider instead",
            ),
            E::Refused(R::ProviderAlreadyLinked) => Self::new(
                StatusCode::CONFLICT,
                ErrorCode::OauthProviderAlreadyLinked,
                "This account is already linked to another identity of this OAuth provider",
            ),
            E::Refused(R::IdentityAlreadyLinked) => Self::new(
                StatusCode::CONFLICT,
                ErrorCode::OauthIdentityAlreadyLinked,
                "This OAuth identity is already linked to another account",
            ),
            E::Token(e) => Self::internal(&e),
            E::Store(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::documented::assert_value_documented;

    #[test]
    fn every_member_of_a_problem_is_in_the_document() {
        let problem = Problem::new(StatusCode::NOT_FOUND, ErrorCode::PostNotFound, "gone");
        assert_value_documented("Problem", &problem.body("/api/v1/posts/1", Some("abc")));
        let invalid = Problem::validation(vec![FieldError::new(
            &["body", "title"],
            "Field required",
            "missing",
        )]);
        assert_value_documented(
            "ValidationProblem",
            &invalid.body("/api/v1/posts", Some("abc")),
        );
    }

    #[test]
    fn body_carries_every_member_of_the_contract() {
        let problem = Problem::validation(vec![FieldError::new(
            &["body", "title"],
            "Field required",
            "missing",
        )]);
        let body = problem.body("/api/posts", Some("req-1"));
        assert_eq!(
            body,
            serde_json::json!({
                "type": "about:blank", "title": "Unprocessable Entity", "status": 422,
                "detail": "Request validation failed", "instance": "/api/posts",
                "error_code": "validation_error", "trace_id": "req-1",
                "errors": [{"loc": ["body", "title"], "msg": "Field required", "type": "missing"}]
            })
        );
    }

    #[test]
    fn statuses_without_a_handler_get_stable_codes() {
        assert_eq!(
            Problem::for_status(StatusCode::NOT_FOUND).error_code(),
            ErrorCode::NotFound
        );
        assert_eq!(
            Problem::for_status(StatusCode::METHOD_NOT_ALLOWED).error_code(),
            ErrorCode::MethodNotAllowed
        );
        assert_eq!(
            Problem::for_status(StatusCode::PAYLOAD_TOO_LARGE).error_code(),
            ErrorCode::PayloadTooLarge
        );
        assert_eq!(
            Problem::for_status(StatusCode::BAD_GATEWAY).error_code(),
            ErrorCode::InternalError
        );
        let body = Problem::for_status(StatusCode::METHOD_NOT_ALLOWED).body("/x", None);
        assert_eq!(body["detail"], "Method Not Allowed");
        assert!(body.get("trace_id").is_none());
    }

    #[test]
    fn unauthorized_responses_challenge_for_a_bearer_token() {
        let response = Problem::unauthorized("Not authenticated").error_response();
        assert_eq!(
            response
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .map(|v| v.as_bytes()),
            Some(&b"Bearer"[..])
        );
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let problem: Problem = StoreError::Unexpected("password=hunter2 in SQL".into()).into();
        let body = problem.body("/x", None);
        assert_eq!(body["detail"], "Internal Server Error");
        assert!(!body.to_string().contains("hunter2"));
        let unavailable: Problem = StoreError::Unavailable("refused".into()).into();
        assert_eq!(unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
