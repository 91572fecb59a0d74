//! HTTP-level tests of the real actix app (port 0) and end-to-end tests of the real `api`
//! binary. A scenario written once runs as `<scenario>::sqlite` and `<scenario>::postgres`;
//! tests that need PostgreSQL or Redis live in modules named `postgres` or `redis`
//! (`keel_testkit::services`), which `scripts/test` leaves out, counted as skipped, when the
//! server is not configured. One test binary for the crate keeps link time down.

mod account;
mod auth;
mod contract;
mod database_restart;
mod deploy_metrics;
mod e2e;
mod edges;
mod errors;
mod frontend;
mod fuzz;
mod hardening;
mod oauth;
mod observability;
mod posts;
mod rate_limit;
mod security;
mod slow_clients;
mod system;
mod users;
mod votes;
// @new-resource: api-tests

/// Runs each named scenario `async fn name(db: TestDb)` as `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(keel_testkit::db::TestDb::sqlite().await).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name(keel_testkit::db::TestDb::postgres().await).await;
                }
            }
        )*
    };
}

use keel_testkit::app::TestResponse;

/// Asserts a problem+json body with the contract's members.
pub(crate) fn assert_problem(res: &TestResponse, status: u16, error_code: &str) {
    assert_eq!(
        res.status.as_u16(),
        status,
        "unexpected status; body: {}",
        res.text
    );
    assert_eq!(
        res.header("content-type"),
        Some("application/problem+json"),
        "body: {}",
        res.text
    );
    let body = &res.body;
    assert_eq!(body["error_code"], error_code, "body: {}", res.text);
    assert_eq!(body["status"], status);
    assert_eq!(body["type"], "about:blank");
    for member in ["title", "detail", "instance", "trace_id"] {
        assert!(body[member].is_string(), "missing {member}: {}", res.text);
    }
    assert_eq!(res.header("x-request-id"), body["trace_id"].as_str());
}
