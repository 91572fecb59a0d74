//! Integration tests of keel-persistence against real databases: every test runs on SQLite,
//! and also on PostgreSQL when `TEST_DATABASE_URL` is set (then it is mandatory). Each test
//! gets fresh databases from `keel_testkit::db`.
//!
//! One test binary (modules below) keeps link time down.

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
