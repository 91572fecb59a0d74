//! Request parsing: the bearer-token extractor and the body, query and path readers that turn
//! raw input into domain types or a 422 listing every failed field.
//!
//! Bodies are parsed inside handlers, after authentication, so the order of checks is always
//! authentication → validation → existence → ownership, whatever the client sends.

use crate::problem::{FieldError, Problem};
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use keel_application::auth::{Authenticate, Principal, VerifiedAccess};
use serde_json::{Map, Value};
use std::future::Future;
use std::pin::Pin;

/// This request's bearer token, verified by the rate-limit middleware (which needs its user
/// before any handler runs), so that [`AuthUser`] does not verify it a second time. Only
/// middleware inserts it; nothing a client sends can.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VerifiedBearer(pub(crate) VerifiedAccess);

/// The authenticated caller; extracting it answers 401 when the bearer token is missing or bad.
#[derive(Debug, Clone)]
pub struct AuthUser(pub Principal);

pub(crate) fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

impl FromRequest for AuthUser {
    type Error = Problem;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Problem>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer_token(req);
        let verified = req.extensions().get::<VerifiedBearer>().map(|v| v.0);
        let authenticate = req.app_data::<web::Data<Authenticate>>().cloned();
        let req = req.clone();
        Box::pin(async move {
            let token = token.ok_or_else(|| Problem::unauthorized("Not authenticated"))?;
            let authenticate = authenticate.ok_or_else(|| {
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    crate::error_code::ErrorCode::InternalError,
                    "Internal Server Error",
                )
            })?;
            let principal = match verified {
                Some(verified) => authenticate.load(verified).await?,
                None => authenticate.execute(&token).await?,
            };
            // Logged with the request line and recorded on the request's span.
            req.extensions_mut()
                .insert(crate::observe::UserId(principal.user.id.get()));
            Ok(Self(principal))
        })
    }
}

fn media_type(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(
        value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}

fn is_json(media: &str) -> bool {
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

/// A request body as named fields, from JSON or (where allowed) an urlencoded form.
pub(crate) enum BodyFields {
    /// A JSON object.
    Json(Map<String, Value>),
    /// Form pairs (values are strings).
    Form(Map<String, Value>),
}

impl BodyFields {
    pub(crate) fn into_map(self) -> Map<String, Value> {
        match self {
            Self::Json(map) | Self::Form(map) => map,
        }
    }
}

fn missing_body() -> Problem {
    Problem::validation(vec![FieldError::new(
        &["body"],
        "Field required",
        "missing",
    )])
}

fn unsupported_media(expected: &str) -> Problem {
    Problem::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        crate::error_code::ErrorCode::UnsupportedMediaType,
        format!("Unsupported media type: expected {expected}"),
    )
}

fn parse_json_object(body: &[u8]) -> Result<Map<String, Value>, Problem> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        Problem::validation(vec![FieldError::new(
            &["body"],
            format!("JSON decode error: {e}"),
            "json_invalid",
        )])
    })?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(Problem::validation(vec![FieldError::new(
            &["body"],
            "Input should be a valid dictionary or object to extract fields from",
            "model_attributes_type",
        )])),
    }
}

/// Reads a JSON object body.
///
/// # Errors
/// 422 for an empty, unparseable or non-object body; 415 for another media type.
pub(crate) fn json_body(req: &HttpRequest, body: &[u8]) -> Result<Map<String, Value>, Problem> {
    match media_type(req) {
        None if body.is_empty() => Err(missing_body()),
        Some(m) if is_json(&m) => {
            if body.is_empty() {
                Err(missing_body())
            } else {
                parse_json_object(body)
            }
        }
        None => parse_json_object(body),
        Some(_) => Err(unsupported_media("application/json")),
    }
}

/// Reads a JSON object or an `application/x-www-form-urlencoded` body.
///
/// # Errors
/// As [`json_body`], accepting forms too.
pub(crate) fn json_or_form_body(req: &HttpRequest, body: &[u8]) -> Result<BodyFields, Problem> {
    match media_type(req).as_deref() {
        Some("application/x-www-form-urlencoded") => {
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|e| {
                Problem::validation(vec![FieldError::new(
                    &["body"],
                    format!("Form decode error: {e}"),
                    "value_error",
                )])
            })?;
            let mut map = Map::new();
            for (key, value) in pairs {
                map.entry(key).or_insert(Value::String(value));
            }
            Ok(BodyFields::Form(map))
        }
        None => json_body(req, body).map(BodyFields::Json),
        Some(media) if is_json(media) => json_body(req, body).map(BodyFields::Json),
        Some(_) => Err(unsupported_media(
            "application/x-www-form-urlencoded or application/json",
        )),
    }
}

/// Field-by-field reader collecting every error, pydantic-style.
pub(crate) struct Fields<'a> {
    source: &'static str,
    map: &'a Map<String, Value>,
    errors: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(source: &'static str, map: &'a Map<String, Value>) -> Self {
        Self {
            source,
            map,
            errors: Vec::new(),
        }
    }

    fn error(&mut self, name: &str, msg: impl Into<String>, kind: &str) {
        self.errors
            .push(FieldError::new(&[self.source, name], msg, kind));
    }

    /// Whether the field is present.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// An optional string: `None` when absent or not a string.
    pub(crate) fn optional_string(&self, name: &str) -> Option<&'a str> {
        self.map.get(name).and_then(Value::as_str)
    }

    /// A required string.
    pub(crate) fn string(&mut self, name: &str) -> Option<&'a str> {
        match self.map.get(name) {
            None => {
                self.error(name, "Field required", "missing");
                None
            }
            Some(Value::String(s)) => Some(s.as_str()),
            _ => {
                self.error(name, "Input should be a valid string", "string_type");
                None
            }
        }
    }

    /// A required integer (JSON integer, or a string of digits as forms and lax clients send).
    pub(crate) fn int(&mut self, name: &str) -> Option<i64> {
        match self.map.get(name) {
            None => {
                self.error(name, "Field required", "missing");
                None
            }
            Some(Value::Number(n)) => match n.as_i64() {
                Some(v) => Some(v),
                None if n.as_f64().is_some_and(|f| f.fract() == 0.0) => {
                    self.error(
                        name,
                        "Input should be a valid integer, the number is out of range",
                        "int_parsing_size",
                    );
                    None
                }
                None => {
                    self.error(
                        name,
                        "Input should be a valid integer, got a number with a fractional part",
                        "int_from_float",
                    );
                    None
                }
            },
            Some(Value::String(s)) => match s.trim().parse::<i64>() {
                Ok(v) => Some(v),
                Err(_) => {
                    self.error(
                        name,
                        "Input should be a valid integer, unable to parse string as an integer",
                        "int_parsing",
                    );
                    None
                }
            },
            Some(_) => {
                self.error(name, "Input should be a valid integer", "int_type");
                None
            }
        }
    }

    /// An optional boolean with a default (also `0`/`1` and `"true"`/`"false"`).
    pub(crate) fn bool_or(&mut self, name: &str, default: bool) -> Option<bool> {
        match self.map.get(name) {
            None | Some(Value::Null) => Some(default),
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::Number(n)) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {
                Some(n.as_i64() == Some(1))
            }
            Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Some(true),
                "false" | "0" | "no" | "off" => Some(false),
                _ => {
                    self.error(
                        name,
                        "Input should be a valid boolean, unable to interpret input",
                        "bool_parsing",
                    );
                    None
                }
            },
            Some(_) => {
                self.error(name, "Input should be a valid boolean", "bool_type");
                None
            }
        }
    }

    /// Records a domain constructor's verdict on a field; a refusal is described on the wire
    /// by `describe` (one of [`crate::wire`]'s texts, never the domain error's `Display`).
    pub(crate) fn check<T, E>(
        &mut self,
        name: &str,
        result: Result<T, E>,
        describe: impl Fn(&E) -> crate::wire::Violation,
    ) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(e) => {
                let violation = describe(&e);
                self.error(name, violation.msg, violation.kind);
                None
            }
        }
    }

    /// 422 with every collected error, if any.
    ///
    /// # Errors
    /// The validation problem.
    pub(crate) fn finish(self) -> Result<(), Problem> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Problem::validation(self.errors))
        }
    }
}

/// The query string as a map of first values.
///
/// # Errors
/// 422 when the query string is not decodable.
pub(crate) fn query_map(req: &HttpRequest) -> Result<Map<String, Value>, Problem> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(req.query_string()).map_err(|e| {
            Problem::validation(vec![FieldError::new(
                &["query"],
                format!("Query decode error: {e}"),
                "value_error",
            )])
        })?;
    let mut map = Map::new();
    for (key, value) in pairs {
        map.entry(key).or_insert(Value::String(value));
    }
    Ok(map)
}

/// A path segment parsed as an integer id.
///
/// # Errors
/// 422 at `["path", name]`.
pub(crate) fn path_int(req: &HttpRequest, name: &str) -> Result<i64, Problem> {
    let raw = req.match_info().get(name).unwrap_or("");
    raw.parse::<i64>().map_err(|_| {
        Problem::validation(vec![FieldError::new(
            &["path", name],
            "Input should be a valid integer, unable to parse string as an integer",
            "int_parsing",
        )])
    })
}

/// A path segment parsed as a UUID.
///
/// # Errors
/// 422 at `["path", name]`.
pub(crate) fn path_uuid(req: &HttpRequest, name: &str) -> Result<uuid::Uuid, Problem> {
    let raw = req.match_info().get(name).unwrap_or("");
    raw.parse::<uuid::Uuid>().map_err(|_| {
        Problem::validation(vec![FieldError::new(
            &["path", name],
            "Input should be a valid UUID",
            "uuid_parsing",
        )])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn bearer_tokens_need_the_scheme_and_a_value() {
        let req = TestRequest::default()
            .insert_header((header::AUTHORIZATION, "Bearer abc"))
            .to_http_request();
        assert_eq!(bearer_token(&req), Some("abc".into()));
        let req = TestRequest::default()
            .insert_header((header::AUTHORIZATION, "bearer  abc "))
            .to_http_request();
        assert_eq!(bearer_token(&req), Some("abc".into()));
        for value in ["Basic abc", "Bearer", "Bearer ", "abc"] {
            let req = TestRequest::default()
                .insert_header((header::AUTHORIZATION, value))
                .to_http_request();
            assert_eq!(bearer_token(&req), None, "{value}");
        }
    }

    #[test]
    fn fields_collect_every_error() {
        let map = serde_json::json!({"title": 5, "dir": "x", "published": "maybe", "n": 1.5});
        let map = map.as_object().expect("object");
        let mut fields = Fields::new("body", map);
        assert_eq!(fields.string("title"), None);
        assert_eq!(fields.string("content"), None);
        assert_eq!(fields.int("dir"), None);
        assert_eq!(fields.int("n"), None);
        assert_eq!(fields.bool_or("published", true), None);
        assert_eq!(fields.bool_or("absent", true), Some(true));
        let kinds: Vec<String> = fields.errors.iter().map(|e| e.kind.clone()).collect();
        assert_eq!(
            kinds,
            [
                "string_type",
                "missing",
                "int_parsing",
                "int_from_float",
                "bool_parsing"
            ]
        );
        assert!(fields.finish().is_err());
    }

    #[test]
    fn bodies_must_be_json_objects_of_the_right_media_type() {
        let json = TestRequest::default()
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .to_http_request();
        assert!(json_body(&json, br#"{"a":1}"#).is_ok());
        assert_eq!(
            json_body(&json, b"{").expect_err("bad").status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            json_body(&json, b"[1]").expect_err("array").status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            json_body(&json, b"").expect_err("empty").status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let text = TestRequest::default()
            .insert_header((header::CONTENT_TYPE, "text/plain"))
            .to_http_request();
        assert_eq!(
            json_body(&text, b"{}").expect_err("text").status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        let form = TestRequest::default()
            .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
            .to_http_request();
        let fields = json_or_form_body(&form, b"username=a%40b.c&password=x")
            .expect("form")
            .into_map();
        assert_eq!(fields["username"], "a@b.c");
    }
}
