//! End-to-end tests of the real `worker` binary: events written by the api (in-process) or
//! seeded in bulk are delivered to a local webhook receiver that checks every signature; two
//! workers share a backlog without delivering any event twice; a worker killed with SIGKILL
//! loses nothing; SIGTERM stops a worker cleanly; the operator subcommands work.
//!
//! A scenario written once runs as `<scenario>::sqlite` and `<scenario>::postgres`;
//! PostgreSQL-only tests live in `postgres` modules. They need `TEST_DATABASE_URL`
//! (`keel_testkit::services`): without it they fail, and `scripts/test` leaves them out,
//! counted as skipped. One test binary for the crate keeps link time down.

/// Runs each scenario `async fn name(db: TestDb)` as `name::sqlite` and `name::postgres`.
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

mod deploy_metrics;
mod harness;
mod mail;
mod observability;
mod scenarios;
