//! The OpenAPI 3 document of every route, with every problem response and its `error_code`s.
//!
//! The document is apistos's model ([`apistos::OpenApi`]), built from the route table
//! (`routes::table`), the one declaration of every route:
//!
//! - **schemas**: every component is derived from a Rust type by apistos
//!   (`#[derive(ApiComponent, JsonSchema)]` on the DTOs of [`crate::dto`], the problem bodies of
//!   [`crate::problem`], the request shapes of the typed inputs, [`ErrorCode`]); a declaration
//!   names its body and success schemas by type (`schema::<PostBody>()`), and the components
//!   are those types' `ApiComponent::schema()` and `child_schemas()`;
//! - **operations**: one per declaration, from its summary, tag, parameters, body and success,
//!   plus the responses every route of its kind has (401 for a bearer route, 413 for a route
//!   with a body, 429 and the limiter's 503 for a limited one, 500);
//! - **what apistos has no word for** goes through its extension points (the `extensions` map of
//!   its models): each problem response lists the exact `error_code`s the route can answer with
//!   that status in `x-error-codes` (data of the declaration), and a limited operation names its
//!   policy in `x-rate-limit-policy`.
//!
//! The contract tests compare the served document with the committed `docs/openapi.json` and
//! check that every documented operation is routed.

use crate::error_code::ErrorCode;
use crate::problem::{ProblemBody, ValidationProblem};
use crate::routes::table::{self, Component, Mount, ParamKind, RouteDecl, Schema, schema};
use apistos::components::Components;
use apistos::info::Info;
use apistos::paths::{
    Header, MediaType, Operation, OperationType, Parameter, ParameterDefinition, ParameterIn,
    PathItem, Paths, RequestBody, Response, Responses,
};
use apistos::reference_or::ReferenceOr;
use apistos::security::{Http, SecurityRequirement, SecurityScheme, SecurityType};
use apistos::{
    InstanceType, Metadata, NumberValidation, OpenApi, OpenApiVersion, SchemaObject,
    StringValidation,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

/// The rendered document, served at `/openapi.json`.
#[derive(Debug, Clone)]
pub struct Document {
    /// Serialized JSON (pretty-printed, stable key order).
    pub json: String,
}

/// The media type of problem responses.
const PROBLEM_JSON: &str = crate::problem::PROBLEM_JSON;

/// The components every document has besides those the operations name: the problem bodies
/// and the list of every code.
fn shared_schemas() -> [Schema; 3] {
    [
        schema::<ProblemBody>(),
        schema::<ValidationProblem>(),
        schema::<ErrorCode>(),
    ]
}

/// The components of the document, collected from the schemas the operations name.
#[derive(Default)]
struct Schemas(BTreeMap<String, ReferenceOr<apistos::Schema>>);

impl Schemas {
    /// Adds `schema`'s component and its children; answers a `$ref` to it.
    fn add(&mut self, schema: Schema) -> ReferenceOr<apistos::Schema> {
        let Component {
            name,
            schema,
            children,
        } = schema.component();
        // apistos's derive titles the schema of a type it is asked for directly (not of its
        // children) with the component's name, which the document's key already is.
        let schema = match schema {
            ReferenceOr::Object(apistos::Schema::Object(mut object)) => {
                if let Some(metadata) = object.metadata.as_mut() {
                    metadata.title = metadata.title.take().filter(|title| *title != name);
                }
                ReferenceOr::Object(object.into())
            }
            other => other,
        };
        for (child, child_schema) in children {
            self.0.entry(child).or_insert(child_schema);
        }
        self.0.entry(name.clone()).or_insert(schema);
        reference(&name)
    }
}

fn reference(name: &str) -> ReferenceOr<apistos::Schema> {
    ReferenceOr::Reference {
        _ref: format!("#/components/schemas/{name}"),
    }
}

fn content(media: &str, schema: ReferenceOr<apistos::Schema>) -> BTreeMap<String, MediaType> {
    BTreeMap::from([(
        media.to_owned(),
        MediaType {
            schema: Some(schema),
            ..MediaType::default()
        },
    )])
}

/// A problem response: every one shares the `Problem` schema (`ValidationProblem` for a 422,
/// which adds `errors`), so a generated client has one error type; the codes this operation
/// can answer with this status are listed in the description and, for tools, in
/// `x-error-codes`.
fn problem_response(status: u16, codes: &[ErrorCode]) -> Response {
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
    Response {
        description: format!("Problem: {described}"),
        content: content(PROBLEM_JSON, reference(schema)),
        extensions: [("x-error-codes".to_owned(), json!(codes))]
            .into_iter()
            .collect(),
        ..Response::default()
    }
}

fn plain(description: &str) -> Response {
    Response {
        description: description.to_owned(),
        ..Response::default()
    }
}

fn integer(minimum: Option<f64>, maximum: Option<f64>, default: Option<Value>) -> SchemaObject {
    SchemaObject {
        instance_type: Some(InstanceType::Integer.into()),
        number: (minimum.is_some() || maximum.is_some()).then(|| {
            Box::new(NumberValidation {
                minimum,
                maximum,
                ..NumberValidation::default()
            })
        }),
        metadata: default.map(|default| {
            Box::new(Metadata {
                default: Some(default),
                ..Metadata::default()
            })
        }),
        ..SchemaObject::default()
    }
}

fn header(description: &str, schema: SchemaObject) -> ReferenceOr<Header> {
    ReferenceOr::Object(Header {
        description: Some(description.to_owned()),
        definition: Some(ParameterDefinition::Schema(Box::new(ReferenceOr::Object(
            schema.into(),
        )))),
        ..Header::default()
    })
}

/// The headers of a limited route's responses, as documented on its 429.
fn rate_limit_headers() -> BTreeMap<String, ReferenceOr<Header>> {
    let count = |description: &str| header(description, integer(Some(0.0), None, None));
    let text = |description: &str| {
        header(
            description,
            SchemaObject {
                instance_type: Some(InstanceType::String.into()),
                ..SchemaObject::default()
            },
        )
    };
    BTreeMap::from([
        (
            "Retry-After".to_owned(),
            count("Seconds to wait (at least 1)"),
        ),
        (
            "X-RateLimit-Limit".to_owned(),
            count("Requests allowed per window"),
        ),
        (
            "X-RateLimit-Remaining".to_owned(),
            count("Requests left in this window (0 on a 429)"),
        ),
        (
            "X-RateLimit-Reset".to_owned(),
            count("Seconds until the window resets"),
        ),
        (
            "RateLimit-Policy".to_owned(),
            text("IETF draft: `{policy};q={limit};w={window seconds}`"),
        ),
        (
            "RateLimit".to_owned(),
            text("IETF draft: `{policy};r={remaining};t={seconds to reset}`"),
        ),
    ])
}

/// The schema of a parameter of `kind` (the table's data: the kinds are the query and path
/// values the typed inputs read).
fn param_schema(kind: ParamKind) -> SchemaObject {
    let string = |default: Option<Value>, max_length: Option<u32>| SchemaObject {
        instance_type: Some(InstanceType::String.into()),
        string: max_length.map(|max_length| {
            Box::new(StringValidation {
                max_length: Some(max_length),
                ..StringValidation::default()
            })
        }),
        metadata: default.map(|default| {
            Box::new(Metadata {
                default: Some(default),
                ..Metadata::default()
            })
        }),
        ..SchemaObject::default()
    };
    match kind {
        ParamKind::Integer => SchemaObject {
            format: Some("int64".to_owned()),
            ..integer(None, None, None)
        },
        ParamKind::Uuid => SchemaObject {
            format: Some("uuid".to_owned()),
            ..string(None, None)
        },
        ParamKind::Limit => integer(Some(1.0), Some(100.0), Some(json!(10))),
        ParamKind::Skip => integer(Some(0.0), None, Some(json!(0))),
        ParamKind::Flag => SchemaObject {
            instance_type: Some(InstanceType::Boolean.into()),
            metadata: Some(Box::new(Metadata {
                default: Some(json!(true)),
                ..Metadata::default()
            })),
            ..SchemaObject::default()
        },
        ParamKind::Text => string(None, None),
        ParamKind::Search => string(Some(json!("")), Some(200)),
    }
}

fn param(name: &str, location: &str, kind: ParamKind, required: bool) -> ReferenceOr<Parameter> {
    ReferenceOr::Object(Parameter {
        name: name.to_owned(),
        _in: if location == "path" {
            ParameterIn::Path
        } else {
            ParameterIn::Query
        },
        required: Some(required),
        definition: Some(ParameterDefinition::Schema(Box::new(ReferenceOr::Object(
            param_schema(kind).into(),
        )))),
        ..Parameter::default()
    })
}

fn operation_type(decl: &RouteDecl) -> OperationType {
    match decl.method.as_str() {
        "PUT" => OperationType::Put,
        "POST" => OperationType::Post,
        "DELETE" => OperationType::Delete,
        "PATCH" => OperationType::Patch,
        "OPTIONS" => OperationType::Options,
        "HEAD" => OperationType::Head,
        _ => OperationType::Get,
    }
}

fn operation(decl: &RouteDecl, op: &table::Operation, schemas: &mut Schemas) -> Operation {
    let mut responses = BTreeMap::new();
    let mut respond = |status: u16, response: Response| {
        responses.insert(status.to_string(), ReferenceOr::Object(response));
    };
    let (status, description, success) = op.success;
    let mut ok = plain(description);
    if let Some(success) = success {
        ok.content = content("application/json", schemas.add(success));
    }
    respond(status, ok);
    if decl.meta.bearer {
        respond(401, problem_response(401, &[ErrorCode::InvalidCredentials]));
    }
    for (status, codes) in &op.errors {
        respond(*status, problem_response(*status, codes));
    }
    if op.body.is_some() {
        respond(413, problem_response(413, &[ErrorCode::PayloadTooLarge]));
    }
    let method = decl.method.as_str().to_ascii_lowercase();
    if decl.path.ends_with("/callback") {
        respond(
            302,
            plain(
                "Found: to OAUTH_FRONTEND_CALLBACK_URL with the result in the fragment (`#provider=…&access_token=…&token_type=bearer&refresh_token=…`, `#provider=…&linked=true` or `#provider=…&error=…`)",
            ),
        );
        if method == "post" {
            respond(
                303,
                plain(
                    "See Other: a form_post without the browser-binding cookie continues as a GET of the same callback",
                ),
            );
        }
    }
    if !decl.operational {
        respond(500, problem_response(500, &[ErrorCode::InternalError]));
        if decl.meta.policy.is_some() {
            let mut too_many = problem_response(429, &[ErrorCode::RateLimitExceeded]);
            too_many.headers = rate_limit_headers();
            respond(429, too_many);
            respond(
                503,
                problem_response(
                    503,
                    &[
                        ErrorCode::ServiceUnavailable,
                        ErrorCode::RateLimitBackendUnavailable,
                    ],
                ),
            );
        } else {
            respond(503, problem_response(503, &[ErrorCode::ServiceUnavailable]));
        }
    }
    let request_body = op.body.map(|(media, body)| {
        let mut content = content(media, schemas.add(body));
        if decl.meta.charge_account {
            // Login also reads `{email, password}` as JSON.
            content.extend(self::content(
                "application/json",
                schemas.add(schema::<crate::input::shape::LoginJson>()),
            ));
        }
        ReferenceOr::Object(RequestBody {
            content,
            required: Some(true),
            ..RequestBody::default()
        })
    });
    let mut extensions = apistos::IndexMap::new();
    if let Some(policy) = decl.meta.policy {
        extensions.insert("x-rate-limit-policy".to_owned(), json!(policy.name()));
    }
    Operation {
        summary: Some(op.summary.to_owned()),
        operation_id: Some(format!(
            "{method}_{}",
            decl.path
                .trim_start_matches('/')
                .replace(['/', '-'], "_")
                .replace(['{', '}'], "")
        )),
        tags: vec![op.tag.to_owned()],
        parameters: op
            .params
            .iter()
            .map(|(n, l, k, r)| param(n, l, *k, *r))
            .collect(),
        request_body,
        responses: Responses {
            responses,
            ..Responses::default()
        },
        security: decl.meta.bearer.then(|| {
            vec![SecurityRequirement {
                requirements: BTreeMap::from([("bearerAuth".to_owned(), Vec::new())]),
            }]
        }),
        extensions,
        ..Operation::default()
    }
}

/// The model of the document for `version` (e.g. `v1`).
pub fn openapi(version: &str) -> OpenApi {
    let mut schemas = Schemas::default();
    for shared in shared_schemas() {
        schemas.add(shared);
    }
    let mut paths: apistos::IndexMap<String, PathItem> = apistos::IndexMap::new();
    // API operations first, then the operational ones, as the table orders them.
    let documented = table::table()
        .iter()
        .filter_map(|decl| Some((decl, decl.operation.as_ref()?)));
    let (api, root): (Vec<_>, Vec<_>) = documented.partition(|(d, _)| d.mount == Mount::Api);
    for (decl, op) in api.into_iter().chain(root) {
        let operation = operation(decl, op, &mut schemas);
        paths
            .entry(decl.full_path(version))
            .or_default()
            .operations
            .insert(operation_type(decl), operation);
    }
    OpenApi {
        openapi: OpenApiVersion::OAS3_0,
        info: Info {
            title: "keel API".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: Some("Every error is application/problem+json (RFC 9457) with a stable error_code. Every route is also served under /api (the latest version).".to_owned()),
            ..Info::default()
        },
        paths: Paths {
            paths,
            ..Paths::default()
        },
        components: Some(Components {
            schemas: schemas.0,
            security_schemes: BTreeMap::from([(
                "bearerAuth".to_owned(),
                ReferenceOr::Object(SecurityScheme {
                    _type: SecurityType::Http(Http {
                        scheme: "bearer".to_owned(),
                        bearer_format: Some("JWT".to_owned()),
                    }),
                    description: None,
                    extensions: apistos::IndexMap::new(),
                }),
            )]),
            ..Components::default()
        }),
        ..OpenApi::default()
    }
}

/// schemars keeps numeric bounds as `f64`; a whole bound is written as an integer (`1`, not
/// `1.0`), as the document always had it.
fn whole_bounds(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                let whole = item
                    .as_f64()
                    .filter(|n| n.fract() == 0.0 && n.abs() < 9.0e15)
                    .filter(|_| matches!(key.as_str(), "minimum" | "maximum"));
                if let Some(n) = whole {
                    #[allow(clippy::cast_possible_truncation, reason = "a whole number below 2^53")]
                    let n = n as i64;
                    *item = Value::from(n);
                } else {
                    whole_bounds(item);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_bounds),
        _ => {}
    }
}

/// The document as a JSON value, for `version` (e.g. `v1`).
pub fn document(version: &str) -> Value {
    let mut value = serde_json::to_value(openapi(version)).unwrap_or_default();
    whole_bounds(&mut value);
    value
}

impl Document {
    /// Renders the document for `version`.
    pub fn new(version: &str) -> Self {
        let json =
            serde_json::to_string_pretty(&document(version)).unwrap_or_else(|_| "{}".to_owned());
        Self { json }
    }

    /// The document for `version`, rendered once per process and shared by every app built
    /// after (each actix worker builds its own app, and they all serve the same text).
    ///
    /// Rendering allocates a few MiB that are freed at once; glibc keeps such memory in the
    /// malloc arena of the thread that freed it, so the composition root calls this once
    /// before the workers start, and no worker renders the document in its own arena.
    pub fn shared(version: &str) -> Arc<Self> {
        static RENDERED: Mutex<Vec<(String, Arc<Document>)>> = Mutex::new(Vec::new());
        let mut rendered = RENDERED.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, document)) = rendered.iter().find(|(v, _)| v == version) {
            return Arc::clone(document);
        }
        let document = Arc::new(Self::new(version));
        rendered.push((version.to_owned(), Arc::clone(&document)));
        document
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

/// Checks that serialized bodies are described by the document (for the tests of the modules
/// owning the DTOs).
#[cfg(test)]
pub(crate) mod documented {
    use super::document;
    use apistos::ApiComponent;
    use serde_json::Value;

    /// Every member `sample` serializes to is a property of `T`'s component in the served
    /// document (and every required property is serialized), down through its `$ref`s and
    /// arrays: a field added to a DTO without appearing in the document fails here.
    pub(crate) fn assert_documented<T: serde::Serialize + ApiComponent>(sample: &T) {
        let (name, _) = T::schema().expect("an ApiComponent names its schema");
        let value = serde_json::to_value(sample).expect("serializes");
        assert_value_documented(&name, &value);
    }

    /// As [`assert_documented`], for a body already serialized, against component `name`.
    pub(crate) fn assert_value_documented(name: &str, value: &Value) {
        let document = document("v1");
        let schemas = &document["components"]["schemas"];
        assert!(
            schemas[name].is_object(),
            "{name} is not a component of the document"
        );
        check(value, &schemas[name], schemas, name);
    }

    fn check(value: &Value, schema: &Value, schemas: &Value, at: &str) {
        if let Some(target) = schema["$ref"].as_str() {
            let name = target.rsplit('/').next().unwrap_or_default();
            assert!(
                schemas[name].is_object(),
                "{at}: {target} is not a component"
            );
            return check(value, &schemas[name], schemas, at);
        }
        match value {
            Value::Object(members) => {
                let properties = schema["properties"]
                    .as_object()
                    .unwrap_or_else(|| panic!("{at} is an object, its schema has no properties"));
                for (key, member) in members {
                    let property = properties
                        .get(key)
                        .unwrap_or_else(|| panic!("{at}.{key} is serialized but not documented"));
                    check(member, property, schemas, &format!("{at}.{key}"));
                }
                for required in schema["required"].as_array().into_iter().flatten() {
                    let required = required.as_str().unwrap_or_default();
                    assert!(
                        members.contains_key(required),
                        "{at}.{required} is required by the document but not serialized"
                    );
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    check(item, &schema["items"], schemas, &format!("{at}[{i}]"));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Document;
    use std::sync::Arc;

    #[test]
    fn a_version_is_rendered_once_and_shared() {
        let first = Document::shared("v1");
        let again = Document::shared("v1");
        assert!(Arc::ptr_eq(&first, &again), "rendered twice");
        assert_eq!(first.json, Document::new("v1").json);
        let other = Document::shared("v7");
        assert!(!Arc::ptr_eq(&first, &other));
        assert!(other.json.contains("/api/v7/posts"), "v7's own paths");
        assert!(!first.json.contains("/api/v7/"));
    }
}
