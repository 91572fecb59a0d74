//! The stable `error_code` of every problem response, as one enum.
//!
//! Clients branch on these strings, so they are part of the contract: each is written once here
//! (snake_case through serde), and [`crate::problem::Problem`], the route declarations
//! (`routes::table`), the OpenAPI document (its `ErrorCode` component, from this enum's
//! `JsonSchema`) and the GUI's constants
//! (`frontend/error-codes.js`, checked by a test) all use this enum. Renaming a variant's string
//! is a breaking change of the API.

use apistos::ApiComponent;
use schemars::JsonSchema;
use schemars::r#gen::SchemaGenerator;
use schemars::schema::{InstanceType, Metadata, Schema, SchemaObject};
use serde::Serialize;
use std::fmt;

macro_rules! error_codes {
    ($($(#[doc = $doc:literal])* $variant:ident = $text:literal,)*) => {
        /// A stable, machine-readable problem code (the `error_code` member).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, ApiComponent)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode {
            $($(#[doc = $doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The wire text (`"post_not_found"`).
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $text,)*
                }
            }
        }
    };
}

error_codes! {
    // --- statuses no handler described (routing, payload limits, …)
    /// 400 without a more precise code.
    BadRequest = "bad_request",
    /// 403 without a more precise code.
    Forbidden = "forbidden",
    /// 404: no such route.
    NotFound = "not_found",
    /// 405: the route exists, the method does not.
    MethodNotAllowed = "method_not_allowed",
    /// 406.
    NotAcceptable = "not_acceptable",
    /// 408: the request (head or body) did not arrive in time.
    RequestTimeout = "request_timeout",
    /// 411.
    LengthRequired = "length_required",
    /// 413: the body is over `MAX_BODY_BYTES`.
    PayloadTooLarge = "payload_too_large",
    /// 414.
    UriTooLong = "uri_too_long",
    /// 415: the body's media type is not one the route reads.
    UnsupportedMediaType = "unsupported_media_type",
    /// 431.
    RequestHeaderFieldsTooLarge = "request_header_fields_too_large",
    /// Any other 4xx status.
    HttpError = "http_error",
    /// 500: the cause is logged, never shown.
    InternalError = "internal_error",
    /// 503: a dependency (the database) is unreachable.
    ServiceUnavailable = "service_unavailable",
    /// 503 from `/ready`: a required dependency is down or shutdown has begun.
    ServiceNotReady = "service_not_ready",
    // --- the edge
    /// 400: the `Host` header is malformed or not a trusted host.
    InvalidHost = "invalid_host",
    /// 400: a CORS preflight from an origin, method or header that is not allowed.
    CorsPreflightRejected = "cors_preflight_rejected",
    /// 429: the route's rate-limit budget is spent.
    RateLimitExceeded = "rate_limit_exceeded",
    /// 503: the rate-limit backend is down and the limiter fails closed.
    RateLimitBackendUnavailable = "rate_limit_backend_unavailable",
    /// 422: the request's body, query or path failed validation (`errors` lists the fields).
    ValidationError = "validation_error",
    // --- authentication and sessions
    /// 401 (missing or bad access token) or 403 (wrong email or password at login).
    InvalidCredentials = "invalid_credentials",
    /// 401: the refresh token is unknown, expired, revoked or reused.
    InvalidRefreshToken = "invalid_refresh_token",
    /// 404: no session of the caller has this id.
    SessionNotFound = "session_not_found",
    /// 400: the email verification token is unknown, tampered, used or expired.
    InvalidVerificationToken = "invalid_verification_token",
    /// 400: the password reset token is unknown, tampered, used or expired.
    InvalidResetToken = "invalid_reset_token",
    // --- users, posts, votes
    /// 409: the email belongs to an account already.
    EmailAlreadyRegistered = "email_already_registered",
    /// 404: no user has this id.
    UserNotFound = "user_not_found",
    /// 404: no post has this id (or it is another user's draft).
    PostNotFound = "post_not_found",
    /// 403: the post belongs to someone else.
    NotPostOwner = "not_post_owner",
    /// 409: the caller has voted on this post already.
    AlreadyVoted = "already_voted",
    /// 404: the caller has no vote on this post to remove.
    VoteNotFound = "vote_not_found",
    // --- OAuth
    /// 404: keel knows no provider of this name.
    OauthProviderUnsupported = "oauth_provider_unsupported",
    /// 404: the provider is known but not configured on this server.
    OauthProviderNotConfigured = "oauth_provider_not_configured",
    /// 400: the callback's `state` is missing, unknown, expired, used or not bound to this
    /// browser.
    InvalidOauthState = "invalid_oauth_state",
    /// 400: the provider answered the authorization request with an error.
    OauthProviderError = "oauth_provider_error",
    /// 400: the callback carries no `code`.
    OauthCodeMissing = "oauth_code_missing",
    /// 400: the provider refused the code exchange.
    OauthExchangeFailed = "oauth_exchange_failed",
    /// 502: the provider's token response could not be used.
    OauthInvalidTokenResponse = "oauth_invalid_token_response",
    /// 502: the provider's profile could not be fetched.
    OauthProfileFetchFailed = "oauth_profile_fetch_failed",
    /// 502: the provider could not be reached.
    OauthProviderUnreachable = "oauth_provider_unreachable",
    /// 422: the provider returned no email address.
    OauthEmailRequired = "oauth_email_required",
    /// 409: the provider's email is not verified, so it joins no account by email.
    OauthEmailUnverified = "oauth_email_unverified",
    /// 409: the account is linked to another identity of this provider.
    OauthProviderAlreadyLinked = "oauth_provider_already_linked",
    /// 409: the identity is linked to another account.
    OauthIdentityAlreadyLinked = "oauth_identity_already_linked",
    // @new-resource: error-codes
}

/// The `ErrorCode` component: a string enum of every code, in declaration order. Written out
/// rather than derived: schemars would turn the variants' doc comments into a `oneOf` of
/// one-value enums, and the document lists the codes as one plain enum.
impl JsonSchema for ErrorCode {
    fn schema_name() -> String {
        "ErrorCode".to_owned()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        SchemaObject {
            instance_type: Some(InstanceType::String.into()),
            enum_values: Some(Self::ALL.iter().map(|c| c.as_str().into()).collect()),
            metadata: Some(Box::new(Metadata {
                description: Some(
                    "Every error_code this server answers today (an open set: new codes may be added)."
                        .to_owned(),
                ),
                ..Metadata::default()
            })),
            ..SchemaObject::default()
        }
        .into()
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_and_as_str_agree_and_every_code_is_unique_snake_case() {
        let mut seen = std::collections::BTreeSet::new();
        for code in ErrorCode::ALL {
            let json = serde_json::to_value(code).expect("serializes");
            assert_eq!(json, code.as_str(), "{code:?}");
            assert!(
                code.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code:?}"
            );
            assert!(seen.insert(code.as_str()), "{code:?} is written twice");
        }
    }

    /// The GUI keeps the codes it branches on in `frontend/error-codes.js`; each must be a code
    /// the server answers.
    #[test]
    fn the_gui_constants_are_server_codes() {
        let file = include_str!("../../../../frontend/error-codes.js");
        let mut names = 0;
        for line in file.lines() {
            let Some((_, rest)) = line.split_once(": '") else {
                continue;
            };
            let Some((text, _)) = rest.split_once('\'') else {
                continue;
            };
            names += 1;
            assert!(
                ErrorCode::ALL.iter().any(|c| c.as_str() == text),
                "frontend/error-codes.js names {text:?}, which no problem answers"
            );
        }
        assert!(names >= 3, "frontend/error-codes.js lists no code");
    }
}
