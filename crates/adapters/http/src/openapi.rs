//! The OpenAPI 3 document of every route, with every problem response and its `error_code`s.
//!
//! Written as data next to the routes rather than derived by macros: each operation lists the
//! exact `error_code`s it can answer, which is the part of the contract clients depend on most.
//! The contract tests compare the served document with the committed `docs/openapi.json` and
//! check that every documented operation is routed.

use serde_json::{Value, json};

/// The rendered document, served at `/openapi.json`.
#[derive(Debug, Clone)]
pub struct Document {
    /// Serialized JSON (pretty-printed, stable key order).
    pub json: String,
}

struct Op {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    tag: &'static str,
    auth: bool,
    body: Option<(&'static str, &'static str)>,
    success: (u16, &'static str, Option<&'static str>),
    errors: &'static [(u16, &'static [&'static str])],
    params: &'static [(&'static str, &'static str, &'static str, bool)],
}

const AUTH_ERRORS: (u16, &[&str]) = (401, &["invalid_credentials"]);
const VALIDATION: (u16, &[&str]) = (422, &["validation_error"]);
const OAUTH_PROVIDER_ERRORS: (u16, &[&str]) = (
    404,
    &[
        "oauth_provider_unsupported",
        "oauth_provider_not_configured",
    ],
);
const OAUTH_UNREACHABLE: (u16, &[&str]) = (502, &["oauth_provider_unreachable"]);
const OAUTH_CALLBACK_ERRORS: &[(u16, &[&str])] = &[
    (
        400,
        &[
            "invalid_oauth_state",
            "oauth_provider_error",
            "oauth_code_missing",
            "oauth_exchange_failed",
        ],
    ),
    OAUTH_PROVIDER_ERRORS,
    (
        409,
        &[
            "oauth_identity_already_linked",
            "oauth_provider_already_linked",
            "oauth_email_unverified",
        ],
    ),
    (422, &["oauth_email_required"]),
    (
        502,
        &[
            "oauth_provider_unreachable",
            "oauth_invalid_token_response",
            "oauth_profile_fetch_failed",
        ],
    ),
];
const OAUTH_CALLBACK_PARAMS: &[(&str, &str, &str, bool)] = &[
    ("provider", "path", "text", true),
    ("state", "query", "text", false),
    ("code", "query", "text", false),
    ("error", "query", "text", false),
    ("error_description", "query", "text", false),
];

fn ops() -> Vec<Op> {
    vec![
        Op {
            method: "post",
            path: "/users",
            summary: "Register a user",
            tag: "users",
            auth: false,
            body: Some(("application/json", "UserCreate")),
            success: (201, "Created", Some("UserOut")),
            errors: &[
                (409, &["email_already_registered"]),
                VALIDATION,
                (415, &["unsupported_media_type"]),
            ],
            params: &[],
        },
        Op {
            method: "get",
            path: "/users/me",
            summary: "The authenticated user",
            tag: "users",
            auth: true,
            body: None,
            success: (200, "OK", Some("UserOut")),
            errors: &[AUTH_ERRORS],
            params: &[],
        },
        Op {
            method: "get",
            path: "/users/{id}",
            summary: "A user by id",
            tag: "users",
            auth: true,
            body: None,
            success: (200, "OK", Some("UserOut")),
            errors: &[AUTH_ERRORS, (404, &["user_not_found"]), VALIDATION],
            params: &[("id", "path", "integer", true)],
        },
        Op {
            method: "post",
            path: "/login",
            summary: "Log in with a password (OAuth2 password flow form, or JSON {email, password})",
            tag: "auth",
            auth: false,
            body: Some(("application/x-www-form-urlencoded", "LoginForm")),
            success: (200, "OK", Some("Token")),
            errors: &[
                (403, &["invalid_credentials"]),
                VALIDATION,
                (415, &["unsupported_media_type"]),
            ],
            params: &[],
        },
        Op {
            method: "post",
            path: "/auth/refresh",
            summary: "Rotate a refresh token",
            tag: "auth",
            auth: false,
            body: Some(("application/json", "RefreshRequest")),
            success: (200, "OK", Some("Token")),
            errors: &[
                (401, &["invalid_refresh_token"]),
                VALIDATION,
                (415, &["unsupported_media_type"]),
            ],
            params: &[],
        },
        Op {
            method: "post",
            path: "/auth/logout",
            summary: "Revoke a refresh token's session",
            tag: "auth",
            auth: false,
            body: Some(("application/json", "RefreshRequest")),
            success: (204, "No Content", None),
            errors: &[
                (401, &["invalid_refresh_token"]),
                VALIDATION,
                (415, &["unsupported_media_type"]),
            ],
            params: &[],
        },
        Op {
            method: "post",
            path: "/auth/logout-all",
            summary: "Revoke every session of the caller",
            tag: "auth",
            auth: true,
            body: None,
            success: (204, "No Content", None),
            errors: &[AUTH_ERRORS],
            params: &[],
        },
        Op {
            method: "get",
            path: "/auth/sessions",
            summary: "The caller's live sessions",
            tag: "auth",
            auth: true,
            body: None,
            success: (200, "OK", Some("SessionList")),
            errors: &[AUTH_ERRORS],
            params: &[],
        },
        Op {
            method: "delete",
            path: "/auth/sessions/{id}",
            summary: "Revoke one of the caller's sessions",
            tag: "auth",
            auth: true,
            body: None,
            success: (204, "No Content", None),
            errors: &[AUTH_ERRORS, (404, &["session_not_found"]), VALIDATION],
            params: &[("id", "path", "uuid", true)],
        },
        Op {
            method: "get",
            path: "/auth/oauth/providers",
            summary: "The enabled OAuth / OpenID Connect providers, in listing order",
            tag: "oauth",
            auth: false,
            body: None,
            success: (200, "OK", Some("OAuthProviders")),
            errors: &[],
            params: &[],
        },
        Op {
            method: "get",
            path: "/auth/oauth/{provider}/start",
            summary: "Start an OAuth sign-in: redirect to the provider (sets the browser-binding cookie)",
            tag: "oauth",
            auth: false,
            body: None,
            success: (
                307,
                "Temporary Redirect to the provider's authorize URL",
                None,
            ),
            errors: &[OAUTH_PROVIDER_ERRORS, OAUTH_UNREACHABLE, VALIDATION],
            params: &[
                ("provider", "path", "text", true),
                ("redirect_to_frontend", "query", "boolean", false),
            ],
        },
        Op {
            method: "post",
            path: "/auth/oauth/{provider}/link/start",
            summary: "Start linking a provider to the caller's account (sets the browser-binding cookie)",
            tag: "oauth",
            auth: true,
            body: None,
            success: (200, "OK", Some("OAuthAuthorization")),
            errors: &[
                AUTH_ERRORS,
                OAUTH_PROVIDER_ERRORS,
                OAUTH_UNREACHABLE,
                VALIDATION,
            ],
            params: &[
                ("provider", "path", "text", true),
                ("redirect_to_frontend", "query", "boolean", false),
            ],
        },
        Op {
            method: "get",
            path: "/auth/oauth/{provider}/callback",
            summary: "Finish an OAuth flow: tokens, a link, or a redirect to the frontend",
            tag: "oauth",
            auth: false,
            body: None,
            success: (200, "OK", Some("OAuthCallbackResult")),
            errors: OAUTH_CALLBACK_ERRORS,
            params: OAUTH_CALLBACK_PARAMS,
        },
        Op {
            method: "post",
            path: "/auth/oauth/{provider}/callback",
            summary: "Finish an OAuth flow answered with form_post (Apple)",
            tag: "oauth",
            auth: false,
            body: Some(("application/x-www-form-urlencoded", "OAuthCallbackForm")),
            success: (200, "OK", Some("OAuthCallbackResult")),
            errors: OAUTH_CALLBACK_ERRORS,
            params: &[("provider", "path", "text", true)],
        },
        Op {
            method: "get",
            path: "/posts",
            summary: "The feed, newest first",
            tag: "posts",
            auth: true,
            body: None,
            success: (200, "OK", Some("PostOutList")),
            errors: &[AUTH_ERRORS, VALIDATION],
            params: &[
                ("limit", "query", "limit", false),
                ("skip", "query", "skip", false),
                ("search", "query", "string", false),
            ],
        },
        Op {
            method: "post",
            path: "/posts",
            summary: "Write a post",
            tag: "posts",
            auth: true,
            body: Some(("application/json", "PostCreate")),
            success: (201, "Created", Some("Post")),
            errors: &[AUTH_ERRORS, VALIDATION, (415, &["unsupported_media_type"])],
            params: &[],
        },
        Op {
            method: "get",
            path: "/posts/{id}",
            summary: "One post with its votes",
            tag: "posts",
            auth: true,
            body: None,
            success: (200, "OK", Some("PostOut")),
            errors: &[AUTH_ERRORS, (404, &["post_not_found"]), VALIDATION],
            params: &[("id", "path", "integer", true)],
        },
        Op {
            method: "put",
            path: "/posts/{id}",
            summary: "Replace one's own post",
            tag: "posts",
            auth: true,
            body: Some(("application/json", "PostCreate")),
            success: (200, "OK", Some("Post")),
            errors: &[
                AUTH_ERRORS,
                (403, &["not_post_owner"]),
                (404, &["post_not_found"]),
                VALIDATION,
                (415, &["unsupported_media_type"]),
            ],
            params: &[("id", "path", "integer", true)],
        },
        Op {
            method: "delete",
            path: "/posts/{id}",
            summary: "Delete one's own post",
            tag: "posts",
            auth: true,
            body: None,
            success: (204, "No Content", None),
            errors: &[
                AUTH_ERRORS,
                (403, &["not_post_owner"]),
                (404, &["post_not_found"]),
                VALIDATION,
            ],
            params: &[("id", "path", "integer", true)],
        },
        Op {
            method: "post",
            path: "/vote",
            summary: "Add (dir 1) or remove (dir 0) one's vote",
            tag: "votes",
            auth: true,
            body: Some(("application/json", "Vote")),
            success: (201, "Created", Some("Message")),
            errors: &[
                AUTH_ERRORS,
                (404, &["post_not_found", "vote_not_found"]),
                (409, &["already_voted"]),
                VALIDATION,
                (415, &["unsupported_media_type"]),
            ],
            params: &[],
        },
        // @new-resource: openapi-ops
    ]
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn problem_response(status: u16, codes: &[&str]) -> Value {
    let schema = if status == 422 {
        "ValidationProblem"
    } else {
        "Problem"
    };
    let described = codes
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ");
    json!({
        "description": format!("Problem: {described}"),
        "content": { "application/problem+json": {
            "schema": { "allOf": [schema_ref(schema), { "properties": { "error_code": { "enum": codes } } }] }
        } }
    })
}

/// The headers of a limited route's responses, as documented on its 429.
fn rate_limit_headers() -> Value {
    let integer = |description: &str| json!({ "description": description, "schema": { "type": "integer", "minimum": 0 } });
    let text =
        |description: &str| json!({ "description": description, "schema": { "type": "string" } });
    json!({
        "Retry-After": integer("Seconds to wait (at least 1)"),
        "X-RateLimit-Limit": integer("Requests allowed per window"),
        "X-RateLimit-Remaining": integer("Requests left in this window (0 on a 429)"),
        "X-RateLimit-Reset": integer("Seconds until the window resets"),
        "RateLimit-Policy": text("IETF draft: `{policy};q={limit};w={window seconds}`"),
        "RateLimit": text("IETF draft: `{policy};r={remaining};t={seconds to reset}`"),
    })
}

fn param(name: &str, location: &str, kind: &str, required: bool) -> Value {
    let schema = match kind {
        "integer" => json!({ "type": "integer", "format": "int64" }),
        "uuid" => json!({ "type": "string", "format": "uuid" }),
        "limit" => json!({ "type": "integer", "minimum": 1, "maximum": 100, "default": 10 }),
        "skip" => json!({ "type": "integer", "minimum": 0, "default": 0 }),
        "boolean" => json!({ "type": "boolean", "default": true }),
        "text" => json!({ "type": "string" }),
        _ => json!({ "type": "string", "default": "", "maxLength": 200 }),
    };
    json!({ "name": name, "in": location, "required": required, "schema": schema })
}

fn operation(op: &Op) -> Value {
    let mut responses = serde_json::Map::new();
    let (status, description, schema) = op.success;
    let mut success = json!({ "description": description });
    if let Some(schema) = schema {
        success["content"] = json!({ "application/json": { "schema": schema_ref(schema) } });
    }
    responses.insert(status.to_string(), success);
    for (status, codes) in op.errors {
        responses.insert(status.to_string(), problem_response(*status, codes));
    }
    if op.body.is_some() {
        responses.insert("413".into(), problem_response(413, &["payload_too_large"]));
    }
    if op.path.ends_with("/callback") {
        responses.insert(
            "302".into(),
            json!({ "description": "Found: to OAUTH_FRONTEND_CALLBACK_URL with the result in the fragment (`#provider=…&access_token=…&token_type=bearer&refresh_token=…`, `#provider=…&linked=true` or `#provider=…&error=…`)" }),
        );
        if op.method == "post" {
            responses.insert(
                "303".into(),
                json!({ "description": "See Other: a form_post without the browser-binding cookie continues as a GET of the same callback" }),
            );
        }
    }
    responses.insert("500".into(), problem_response(500, &["internal_error"]));
    let method = actix_web::http::Method::from_bytes(op.method.to_uppercase().as_bytes());
    let limited = method
        .ok()
        .and_then(|m| crate::rate_limit::policy_for(&m, &format!("/api/v1{}", op.path)))
        .is_some();
    if limited {
        let mut too_many = problem_response(429, &["rate_limit_exceeded"]);
        too_many["headers"] = rate_limit_headers();
        responses.insert("429".into(), too_many);
        responses.insert(
            "503".into(),
            problem_response(
                503,
                &["service_unavailable", "rate_limit_backend_unavailable"],
            ),
        );
    } else {
        responses.insert(
            "503".into(),
            problem_response(503, &["service_unavailable"]),
        );
    }
    let mut value = json!({
        "summary": op.summary,
        "operationId": format!("{}_{}", op.method, op.path.trim_start_matches('/').replace(['/', '-'], "_").replace(['{', '}'], "")),
        "tags": [op.tag],
        "responses": responses,
    });
    if !op.params.is_empty() {
        value["parameters"] = op
            .params
            .iter()
            .map(|(n, l, k, r)| param(n, l, k, *r))
            .collect();
    }
    if let Some((media, schema)) = op.body {
        let mut content = json!({ media: { "schema": schema_ref(schema) } });
        if op.path == "/login" {
            content["application/json"] = json!({ "schema": schema_ref("LoginJson") });
        }
        value["requestBody"] = json!({ "required": true, "content": content });
    }
    if op.auth {
        value["security"] = json!([{ "bearerAuth": [] }]);
    }
    value
}

fn timestamp() -> Value {
    json!({ "type": "string", "format": "date-time", "example": "2026-11-28T12:00:00.000000Z" })
}

fn components() -> Value {
    let problem = json!({
        "type": "object",
        "required": ["type", "title", "status", "detail", "instance", "error_code"],
        "properties": {
            "type": { "type": "string", "example": "about:blank" },
            "title": { "type": "string" },
            "status": { "type": "integer" },
            "detail": { "type": "string" },
            "instance": { "type": "string" },
            "error_code": { "type": "string" },
            "trace_id": { "type": "string" }
        }
    });
    json!({
        "securitySchemes": { "bearerAuth": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" } },
        "schemas": {
            "Problem": problem,
            "ValidationProblem": { "allOf": [schema_ref("Problem"), { "type": "object", "required": ["errors"], "properties": {
                "errors": { "type": "array", "items": { "type": "object", "required": ["loc", "msg", "type"], "properties": {
                    "loc": { "type": "array", "items": { "oneOf": [{ "type": "string" }, { "type": "integer" }] } },
                    "msg": { "type": "string" },
                    "type": { "type": "string" }
                } } }
            } }] },
            "UserCreate": { "type": "object", "required": ["email", "password"], "properties": {
                "email": { "type": "string", "format": "email", "maxLength": 254 },
                "password": { "type": "string", "minLength": 8, "maxLength": 128 } } },
            "UserOut": { "type": "object", "required": ["id", "email", "created_at"], "additionalProperties": false, "properties": {
                "id": { "type": "integer", "format": "int64" }, "email": { "type": "string", "format": "email" }, "created_at": timestamp() } },
            "LoginForm": { "type": "object", "required": ["username", "password"], "properties": {
                "username": { "type": "string" }, "password": { "type": "string" } } },
            "LoginJson": { "type": "object", "required": ["email", "password"], "properties": {
                "email": { "type": "string" }, "password": { "type": "string" } } },
            "RefreshRequest": { "type": "object", "required": ["refresh_token"], "properties": { "refresh_token": { "type": "string" } } },
            "Token": { "type": "object", "required": ["access_token", "token_type", "refresh_token"], "additionalProperties": false, "properties": {
                "access_token": { "type": "string" }, "token_type": { "type": "string", "enum": ["bearer"] }, "refresh_token": { "type": "string" } } },
            "Session": { "type": "object", "required": ["id", "created_at", "last_used_at", "user_agent", "current"], "additionalProperties": false, "properties": {
                "id": { "type": "string", "format": "uuid" }, "created_at": timestamp(), "last_used_at": timestamp(),
                "user_agent": { "type": "string", "nullable": true }, "current": { "type": "boolean" } } },
            "SessionList": { "type": "array", "items": schema_ref("Session") },
            "PostCreate": { "type": "object", "required": ["title", "content"], "properties": {
                "title": { "type": "string", "minLength": 1, "maxLength": 200 },
                "content": { "type": "string", "minLength": 1, "maxLength": 10000 },
                "published": { "type": "boolean", "default": true } } },
            "Post": { "type": "object", "required": ["id", "title", "content", "published", "created_at", "owner_id", "owner"], "additionalProperties": false, "properties": {
                "id": { "type": "integer", "format": "int64" }, "title": { "type": "string" }, "content": { "type": "string" },
                "published": { "type": "boolean" }, "created_at": timestamp(), "owner_id": { "type": "integer", "format": "int64" },
                "owner": schema_ref("UserOut") } },
            "PostOut": { "type": "object", "required": ["Post", "votes"], "additionalProperties": false, "properties": {
                "Post": schema_ref("Post"), "votes": { "type": "integer", "format": "int64" } } },
            "PostOutList": { "type": "array", "items": schema_ref("PostOut") },
            "Vote": { "type": "object", "required": ["post_id", "dir"], "properties": {
                "post_id": { "type": "integer", "format": "int64", "minimum": 1 }, "dir": { "type": "integer", "enum": [0, 1] } } },
            "OAuthProvider": { "type": "object", "required": ["provider", "display_name", "start_url", "link_start_url"], "additionalProperties": false, "properties": {
                "provider": { "type": "string", "enum": ["google", "microsoft", "apple", "facebook", "github", "oidc"] },
                "display_name": { "type": "string" }, "start_url": { "type": "string" }, "link_start_url": { "type": "string" } } },
            "OAuthProviders": { "type": "object", "required": ["providers"], "additionalProperties": false, "properties": {
                "providers": { "type": "array", "items": schema_ref("OAuthProvider") } } },
            "OAuthAuthorization": { "type": "object", "required": ["authorization_url"], "additionalProperties": false, "properties": {
                "authorization_url": { "type": "string" } } },
            "OAuthLinked": { "type": "object", "required": ["provider", "linked"], "additionalProperties": false, "properties": {
                "provider": { "type": "string" }, "linked": { "type": "boolean", "enum": [true] } } },
            "OAuthCallbackResult": { "oneOf": [schema_ref("Token"), schema_ref("OAuthLinked")] },
            "OAuthCallbackForm": { "type": "object", "properties": {
                "state": { "type": "string" }, "code": { "type": "string" }, "error": { "type": "string" },
                "error_description": { "type": "string" }, "user": { "type": "string" } } },
            "Message": { "type": "object", "required": ["message"], "additionalProperties": false, "properties": { "message": { "type": "string" } } },
            // @new-resource: openapi-schemas
            "Health": { "type": "object", "required": ["status"], "properties": { "status": { "type": "string", "enum": ["ok"] } } },
            "Ready": { "type": "object", "required": ["status", "checks"], "properties": {
                "status": { "type": "string", "enum": ["ok"] },
                "checks": { "type": "object", "properties": { "database": { "type": "boolean" }, "redis": { "type": "boolean" } } } } }
        }
    })
}

/// The document as a JSON value, for `version` (e.g. `v1`).
pub fn document(version: &str) -> Value {
    let mut paths = serde_json::Map::new();
    for op in ops() {
        let path = format!("/api/{version}{}", op.path);
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        entry[op.method] = operation(&op);
    }
    paths.insert("/health".into(), json!({ "get": {
        "summary": "Liveness (no I/O)", "operationId": "get_health", "tags": ["operations"],
        "responses": { "200": { "description": "OK", "content": { "application/json": { "schema": schema_ref("Health") } } } } } }));
    paths.insert("/ready".into(), json!({ "get": {
        "summary": "Readiness: the database (and Redis when required) answer, and shutdown has not begun",
        "operationId": "get_ready", "tags": ["operations"],
        "responses": {
            "200": { "description": "OK", "content": { "application/json": { "schema": schema_ref("Ready") } } },
            "503": problem_response(503, &["service_not_ready"]) } } }));
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "keel API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Every error is application/problem+json (RFC 9457) with a stable error_code. Every route is also served under /api (the latest version)."
        },
        "paths": paths,
        "components": components(),
    })
}

impl Document {
    /// Renders the document for `version`.
    pub fn new(version: &str) -> Self {
        let json =
            serde_json::to_string_pretty(&document(version)).unwrap_or_else(|_| "{}".to_owned());
        Self { json }
    }
}

/// Every documented operation as `(METHOD, path)`, for contract tests.
pub fn documented_operations(version: &str) -> Vec<(String, String)> {
    ops()
        .iter()
        .map(|op| {
            (
                op.method.to_uppercase(),
                format!("/api/{version}{}", op.path),
            )
        })
        .collect()
}
