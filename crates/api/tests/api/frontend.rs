//! The embedded browser GUI: `/` and `/static/*` come from the binary with the right content
//! types, an ETag that revalidates to 304, and the CSP (sent by the security-header
//! middleware); with `ENABLE_OPTIONAL_FRONTEND=false` the root is the JSON message and
//! `/static/*` is gone.

use keel_testkit::app::{TestApp, TestResponse};
use keel_testkit::db::TestDb;
use reqwest::header::IF_NONE_MATCH;

const MODULES: [&str; 8] = [
    "app.js",
    "api.js",
    "dom.js",
    "error-codes.js",
    "events.js",
    "mail-links.js",
    "oauth.js",
    "tokens.js",
];

async fn get_with(app: &TestApp, path: &str, if_none_match: &str) -> TestResponse {
    TestApp::read(
        app.client
            .get(format!("{}{path}", app.base_url))
            .header(IF_NONE_MATCH, if_none_match),
    )
    .await
}

/// Asserts the GUI's caching and CSP headers; returns the ETag.
fn assert_gui_headers(res: &TestResponse, path: &str) -> String {
    assert_eq!(res.header("cache-control"), Some("no-cache"), "{path}");
    let csp = res.header("content-security-policy").unwrap_or_default();
    for directive in [
        "default-src 'self'",
        "script-src 'self';",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ] {
        assert!(
            csp.contains(directive),
            "{path}: CSP {csp:?} lacks {directive}"
        );
    }
    let etag = res.header("etag").expect("an ETag").to_owned();
    assert!(
        etag.len() > 2 && etag.starts_with('"') && etag.ends_with('"'),
        "{path}: a strong ETag, got {etag}"
    );
    etag
}

#[tokio::test]
async fn the_page_and_its_files_are_served_from_the_binary_with_their_types() {
    let app = TestApp::spawn(TestDb::sqlite().await).await;
    let page = app.get("/", None).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_gui_headers(&page, "/");
    assert!(
        page.text
            .contains(r#"<script type="module" src="/static/app.js"></script>"#)
    );
    assert!(page.text.contains(r#"href="/static/app.css""#));
    assert!(
        !page.text.contains("http://") && !page.text.contains("https://"),
        "nothing is loaded from another origin"
    );
    assert!(
        !page.text.contains("<script>") && !page.text.contains(" onclick="),
        "no inline script or handler"
    );

    let mut expected = vec![
        ("/static/app.css".to_owned(), "text/css; charset=utf-8"),
        ("/static/icon.svg".to_owned(), "image/svg+xml"),
    ];
    expected.extend(
        MODULES
            .iter()
            .map(|m| (format!("/static/{m}"), "text/javascript; charset=utf-8")),
    );
    for (path, content_type) in &expected {
        let res = app.get(path, None).await;
        assert_eq!(res.status, 200, "{path}");
        assert_eq!(res.header("content-type"), Some(*content_type), "{path}");
        assert_gui_headers(&res, path);
        assert!(!res.text.is_empty(), "{path} has a body");
    }

    // Every module a module imports is served too (a forgotten file would break the page).
    for module in MODULES {
        let source = app.get(&format!("/static/{module}"), None).await.text;
        for import in source.split("from './").skip(1) {
            let name = import.split('\'').next().unwrap_or_default();
            assert!(
                MODULES.contains(&name),
                "{module} imports {name}, which is not served"
            );
        }
    }
}

#[tokio::test]
async fn an_unchanged_file_revalidates_to_304_and_a_stale_one_is_sent_again() {
    let app = TestApp::spawn(TestDb::sqlite().await).await;
    for path in ["/", "/static/app.js", "/static/app.css"] {
        let first = app.get(path, None).await;
        let etag = assert_gui_headers(&first, path);

        let fresh = get_with(&app, path, &etag).await;
        assert_eq!(fresh.status, 304, "{path} with its current ETag");
        assert!(fresh.text.is_empty(), "{path}: a 304 has no body");
        assert_eq!(fresh.header("etag"), Some(etag.as_str()));
        assert_eq!(fresh.header("cache-control"), Some("no-cache"));

        // Weak comparison, lists and `*`, as RFC 9110 prescribes for If-None-Match.
        for header in [
            format!("W/{etag}"),
            format!("\"stale\", {etag}"),
            "*".to_owned(),
        ] {
            assert_eq!(
                get_with(&app, path, &header).await.status,
                304,
                "{path}: {header}"
            );
        }

        let stale = get_with(&app, path, "\"0000000000000000\"").await;
        assert_eq!(stale.status, 200, "{path} with an old ETag");
        assert_eq!(stale.text, first.text);
    }
    assert_ne!(
        app.get("/static/app.js", None).await.header("etag"),
        app.get("/static/api.js", None).await.header("etag"),
        "each file has its own validator"
    );
}

#[tokio::test]
async fn unknown_static_files_are_404_problems() {
    let app = TestApp::spawn(TestDb::sqlite().await).await;
    for path in [
        "/static/nope.js",
        "/static/index.html",
        "/static/..%2F..%2FCargo.toml",
        "/static/",
    ] {
        crate::assert_problem(&app.get(path, None).await, 404, "not_found");
    }
}

#[tokio::test]
async fn with_the_frontend_pack_disabled_the_root_is_a_json_message() {
    let app = TestApp::spawn_with(
        TestDb::sqlite().await,
        &[("ENABLE_OPTIONAL_FRONTEND", "false")],
    )
    .await;
    let root = app.get("/", None).await;
    assert_eq!(root.status, 200);
    assert_eq!(root.header("content-type"), Some("application/json"));
    assert!(
        root.body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("keel API")),
        "{}",
        root.text
    );
    crate::assert_problem(&app.get("/static/app.js", None).await, 404, "not_found");
}
