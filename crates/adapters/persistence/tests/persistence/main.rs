//! Integration tests of keel-persistence against real databases. A scenario written once runs
//! as two tests, `<scenario>::sqlite` and `<scenario>::postgres`; PostgreSQL-only tests live in
//! `postgres` modules. PostgreSQL tests need `TEST_DATABASE_URL` (`keel_testkit::services`):
//! without it they fail, and `scripts/test` leaves them out, counted as skipped. Each test gets
//! a fresh database from `keel_testkit::db`.
//!
//! One test binary (modules below) keeps link time down.

/// Runs each scenario `async fn name(s: Store)` as `name::sqlite` and `name::postgres`.
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    let db = keel_testkit::db::TestDb::sqlite().await;
                    super::$name(crate::harness::store(db).await).await;
                }

                #[tokio::test]
                async fn postgres() {
                    let db = keel_testkit::db::TestDb::postgres().await;
                    super::$name(crate::harness::store(db).await).await;
                }
            }
        )*
    };
}

mod email_tokens;
mod harness;
mod lost_connections;
mod migrations;
mod oauth;
mod outbox;
mod posts;
mod sessions;
mod users;
mod votes;
