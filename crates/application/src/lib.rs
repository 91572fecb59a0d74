//! # keel-application
//!
//! keel's use cases: one struct per operation, holding the ports it needs as `Arc<dyn Port>`.
//! A use case parses nothing (its inputs are already domain types), asks the domain to decide,
//! and hands state plus events to one port call that commits both. Each operation has its own
//! error enum naming what happened, so the HTTP adapter maps every outcome in one place.
//!
//! OAuth / OpenID Connect sign-in and account linking live in [`oauth`].
//!
//! The outbox relay ([`outbox::RelayOutbox`]) delivers the events those commits recorded.
//!
//! The crate is runtime-agnostic: no tokio, no framework.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod account;
pub mod auth;
pub mod oauth;
pub mod outbox;
pub mod posts;
pub mod rate_limit;
pub mod sessions;
pub mod users;
pub mod votes;
// @new-resource: application-modules

#[cfg(test)]
mod fixtures;
