//! Property-based fuzzing of the HTTP surface: arbitrary paths, methods, queries, headers and
//! bodies (valid JSON of any shape, and arbitrary bytes) against every route, authenticated and
//! not. Invariant: no input yields a 5xx or kills the server, and every error is a problem+json
//! body with an `error_code`.

use keel_testkit::app::TestApp;
use keel_testkit::db::TestDb;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::Value;

/// Every API route of the route table but the OAuth flows (their providers are fakes of other
/// tests), as `(method, path template)`: a route added to the table is fuzzed without a change
/// here.
static ROUTES: std::sync::LazyLock<Vec<(&'static str, String)>> = std::sync::LazyLock::new(|| {
    keel_http::declared_routes("v1")
        .into_iter()
        .filter(|r| r.path.starts_with("/api/") && !r.path.contains("/auth/oauth/"))
        .map(|r| {
            let method: &'static str = match r.method.as_str() {
                "GET" => "GET",
                "POST" => "POST",
                "PUT" => "PUT",
                "DELETE" => "DELETE",
                "PATCH" => "PATCH",
                other => panic!("a route of method {other}: add it here"),
            };
            (method, r.path)
        })
        .collect()
});

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::String),
        "[a-z0-9@. ]{0,300}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("email".to_owned()),
                    Just("password".to_owned()),
                    Just("title".to_owned()),
                    Just("content".to_owned()),
                    Just("published".to_owned()),
                    Just("post_id".to_owned()),
                    Just("dir".to_owned()),
                    Just("refresh_token".to_owned()),
                    Just("username".to_owned()),
                    "[a-z_]{1,8}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[derive(Debug, Clone)]
enum Body {
    None,
    Json(Value),
    Bytes(Vec<u8>, &'static str),
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        Just(Body::None),
        json_value().prop_map(Body::Json),
        (
            prop::collection::vec(any::<u8>(), 0..200),
            prop_oneof![
                Just("application/json"),
                Just("application/x-www-form-urlencoded"),
                Just("text/plain"),
                Just("multipart/form-data; boundary=x"),
                Just("application/merge-patch+json"),
            ]
        )
            .prop_map(|(b, ct)| Body::Bytes(b, ct)),
    ]
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|i| i.to_string()),
        Just("99999999999999999999999".to_owned()),
        Just("00000000-0000-0000-0000-000000000000".to_owned()),
        "[a-zA-Z0-9%._~-]{0,30}",
        Just("%00".to_owned()),
        Just("..%2F..".to_owned()),
    ]
}

#[derive(Debug, Clone)]
struct Case {
    route: usize,
    method_override: Option<&'static str>,
    segment: String,
    query: Vec<(String, String)>,
    body: Body,
    authenticated: bool,
    version_header: Option<String>,
    trailing_slash: bool,
}

fn case() -> impl Strategy<Value = Case> {
    (
        0..ROUTES.len(),
        prop::option::weighted(
            0.1,
            prop_oneof![Just("PATCH"), Just("OPTIONS"), Just("HEAD"), Just("DELETE")],
        ),
        segment(),
        prop::collection::vec(
            (
                prop_oneof![
                    Just("limit".to_owned()),
                    Just("skip".to_owned()),
                    Just("search".to_owned()),
                    "[a-z]{1,5}"
                ],
                ".{0,20}",
            ),
            0..4,
        ),
        body(),
        any::<bool>(),
        prop::option::of(prop_oneof![
            Just("v1".to_owned()),
            Just("v2".to_owned()),
            ".{0,10}"
        ]),
        any::<bool>(),
    )
        .prop_map(
            |(
                route,
                method_override,
                segment,
                query,
                body,
                authenticated,
                version_header,
                trailing_slash,
            )| Case {
                route,
                method_override,
                segment,
                query,
                body,
                authenticated,
                version_header,
                trailing_slash,
            },
        )
}

#[test]
fn no_request_yields_a_5xx_or_a_non_problem_error() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (app, token) = runtime.block_on(async {
        let app = TestApp::spawn_with(TestDb::sqlite().await, &[("MAX_BODY_BYTES", "4096")]).await;
        let user = app.user("fuzzer").await;
        app.create_post(&user, "target", true).await;
        (app, user.access)
    });
    let mut runner = TestRunner::new(Config {
        cases: 400,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&case(), |case| {
        runtime.block_on(async {
            let (method, template) = &ROUTES[case.route];
            let method = case.method_override.unwrap_or(*method);
            let mut path = template.replace("{id}", &case.segment);
            if case.trailing_slash {
                path.push('/');
            }
            let url = format!("{}{}", app.base_url, path);
            let mut request = app.client.request(
                reqwest::Method::from_bytes(method.as_bytes()).expect("method"),
                &url,
            );
            if !case.query.is_empty() {
                request = request.query(&case.query);
            }
            if case.authenticated {
                request = request.bearer_auth(&token);
            }
            if let Some(version) = &case.version_header
                && let Ok(value) = reqwest::header::HeaderValue::from_str(version)
            {
                request = request.header("x-api-version", value);
            }
            request = match &case.body {
                Body::None => request,
                Body::Json(value) => request.json(value),
                Body::Bytes(bytes, content_type) => request
                    .header("content-type", *content_type)
                    .body(bytes.clone()),
            };
            let res = TestApp::read(request).await;
            if res.status.is_server_error() {
                return Err(TestCaseError::fail(format!(
                    "{method} {path}: {} {}",
                    res.status, res.text
                )));
            }
            if res.status.is_client_error() && method != "HEAD" {
                let is_problem = res.header("content-type") == Some("application/problem+json")
                    && res.body["error_code"].is_string();
                if !is_problem {
                    return Err(TestCaseError::fail(format!(
                        "{method} {path}: {} is not a problem: {}",
                        res.status, res.text
                    )));
                }
            }
            Ok(())
        })
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    // The server is still alive and answering after the whole run.
    let health = runtime.block_on(app.get("/health", None));
    assert_eq!(health.status, 200);
}
