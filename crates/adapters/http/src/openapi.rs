//! The OpenAPI 3 document of every route, with every problem response and its `error_code`s.
//!
//! The operations are rendered from the route table (`routes::table`): each
//! declaration carries its summary, body, success, parameters and the exact `error_code`s it
//! can answer, and the responses every route of its kind has are added here (401 for a bearer
//! route, 413 for a route with a body, 429 and the limiter's 503 for a limited one, 500). The
//! schemas of the bodies are the components below. The contract tests compare the served
//! document with the committed `docs/openapi.json` and check that every documented operation is
//! routed.

use crate::error_code::ErrorCode;
use crate::routes::table::{self, Mount, ParamKind, RouteDecl};
use serde_json::{Value, json};

/// The rendered document, served at `/openapi.json`.
#[derive(Debug, Clone)]
pub struct Document {
    /// Serialized JSON (pretty-printed, stable key order).
    pub json: String,
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// A problem response: every one shares the `Problem` schema (`ValidationProblem` for a 422,
/// which adds `errors`), so a generated client has one error type; the codes this operation
/// can answer with this status are listed in the description and, for tools, in
/// `x-error-codes`.
fn problem_response(status: u16, codes: &[ErrorCode]) -> Value {
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
        "x-error-codes": codes,
        "content": { "application/problem+json": { "schema": schema_ref(schema) } }
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

fn param(name: &str, location: &str, kind: ParamKind, required: bool) -> Value {
    let schema = match kind {
        ParamKind::Integer => json!({ "type": "integer", "format": "int64" }),
        ParamKind::Uuid => json!({ "type": "string", "format": "uuid" }),
        ParamKind::Limit => {
            json!({ "type": "integer", "minimum": 1, "maximum": 100, "default": 10 })
        }
        ParamKind::Skip => json!({ "type": "integer", "minimum": 0, "default": 0 }),
        ParamKind::Flag => json!({ "type": "boolean", "default": true }),
        ParamKind::Text => json!({ "type": "string" }),
        ParamKind::Search => json!({ "type": "string", "default": "", "maxLength": 200 }),
    };
    json!({ "name": name, "in": location, "required": required, "schema": schema })
}

fn operation(decl: &RouteDecl, op: &table::Operation) -> Value {
    let mut responses = serde_json::Map::new();
    let (status, description, schema) = op.success;
    let mut success = json!({ "description": description });
    if let Some(schema) = schema {
        success["content"] = json!({ "application/json": { "schema": schema_ref(schema) } });
    }
    responses.insert(status.to_string(), success);
    if decl.meta.bearer {
        responses.insert(
            "401".into(),
            problem_response(401, &[ErrorCode::InvalidCredentials]),
        );
    }
    for (status, codes) in &op.errors {
        responses.insert(status.to_string(), problem_response(*status, codes));
    }
    if op.body.is_some() {
        responses.insert(
            "413".into(),
            problem_response(413, &[ErrorCode::PayloadTooLarge]),
        );
    }
    let method = decl.method.as_str().to_ascii_lowercase();
    if decl.path.ends_with("/callback") {
        responses.insert(
            "302".into(),
            json!({ "description": "Found: to OAUTH_FRONTEND_CALLBACK_URL with the result in the fragment (`#provider=…&access_token=…&token_type=bearer&refresh_token=…`, `#provider=…&linked=true` or `#provider=…&error=…`)" }),
        );
        if method == "post" {
            responses.insert(
                "303".into(),
                json!({ "description": "See Other: a form_post without the browser-binding cookie continues as a GET of the same callback" }),
            );
        }
    }
    if !decl.operational {
        responses.insert(
            "500".into(),
            problem_response(500, &[ErrorCode::InternalError]),
        );
        if decl.meta.policy.is_some() {
            let mut too_many = problem_response(429, &[ErrorCode::RateLimitExceeded]);
            too_many["headers"] = rate_limit_headers();
            responses.insert("429".into(), too_many);
            responses.insert(
                "503".into(),
                problem_response(
                    503,
                    &[
                        ErrorCode::ServiceUnavailable,
                        ErrorCode::RateLimitBackendUnavailable,
                    ],
                ),
            );
        } else {
            responses.insert(
                "503".into(),
                problem_response(503, &[ErrorCode::ServiceUnavailable]),
            );
        }
    }
    let mut value = json!({
        "summary": op.summary,
        "operationId": format!("{method}_{}", decl.path.trim_start_matches('/').replace(['/', '-'], "_").replace(['{', '}'], "")),
        "tags": [op.tag],
        "responses": responses,
    });
    if !op.params.is_empty() {
        value["parameters"] = op
            .params
            .iter()
            .map(|(n, l, k, r)| param(n, l, *k, *r))
            .collect();
    }
    if let Some((media, schema)) = op.body {
        let mut content = json!({ media: { "schema": schema_ref(schema) } });
        if decl.meta.charge_account {
            // Login also reads `{email, password}` as JSON.
            content["application/json"] = json!({ "schema": schema_ref("LoginJson") });
        }
        value["requestBody"] = json!({ "required": true, "content": content });
    }
    if decl.meta.bearer {
        value["security"] = json!([{ "bearerAuth": [] }]);
    }
    if let Some(policy) = decl.meta.policy {
        value["x-rate-limit-policy"] = json!(policy.name());
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
            "error_code": { "type": "string", "description": "Stable and machine-readable: one of `ErrorCode` (each operation lists the codes it answers in `x-error-codes`). New codes may be added, so a client must accept one it does not know." },
            "trace_id": { "type": "string" }
        }
    });
    let every_code = json!({
        "type": "string",
        "description": "Every error_code this server answers today (an open set: new codes may be added).",
        "enum": ErrorCode::ALL,
    });
    json!({
        "securitySchemes": { "bearerAuth": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" } },
        "schemas": {
            "Problem": problem,
            "ErrorCode": every_code,
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
            "UserOut": { "type": "object", "required": ["id", "email", "email_verified", "created_at"], "additionalProperties": false, "properties": {
                "id": { "type": "integer", "format": "int64" }, "email": { "type": "string", "format": "email" }, "email_verified": { "type": "boolean" }, "created_at": timestamp() } },
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
            "VerifyEmailRequest": { "type": "object", "required": ["token"], "properties": { "token": { "type": "string" } } },
            "PasswordResetRequest": { "type": "object", "required": ["email"], "properties": {
                "email": { "type": "string", "format": "email", "maxLength": 254 } } },
            "PasswordResetConfirm": { "type": "object", "required": ["token", "new_password"], "properties": {
                "token": { "type": "string" }, "new_password": { "type": "string", "minLength": 8, "maxLength": 128 } } },
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
    // API operations first, then the operational ones, as the table orders them.
    let documented = table::table()
        .iter()
        .filter_map(|decl| Some((decl, decl.operation.as_ref()?)));
    let (api, root): (Vec<_>, Vec<_>) = documented.partition(|(d, _)| d.mount == Mount::Api);
    for (decl, op) in api.into_iter().chain(root) {
        let entry = paths
            .entry(decl.full_path(version))
            .or_insert_with(|| json!({}));
        entry[decl.method.as_str().to_ascii_lowercase()] = operation(decl, op);
    }
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
    table::table()
        .iter()
        .filter(|decl| decl.operation.is_some())
        .map(|decl| (decl.method.to_string(), decl.full_path(version)))
        .collect()
}
