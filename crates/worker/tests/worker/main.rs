//! End-to-end tests of the real `worker` binary: events written by the api (in-process) or
//! seeded in bulk are delivered to a local webhook receiver that checks every signature; two
//! workers share a backlog without delivering any event twice; a worker killed with SIGKILL
//! loses nothing; SIGTERM stops a worker cleanly; the operator subcommands work.
//!
//! PostgreSQL scenarios run when `TEST_DATABASE_URL` is set (then they are mandatory); the
//! others also run on SQLite. One test binary for the crate keeps link time down.

mod deploy_metrics;
mod harness;
mod mail;
mod observability;
mod scenarios;
