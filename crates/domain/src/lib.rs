//! # keel-domain
//!
//! keel's business rules, free of I/O, async runtimes, web frameworks and ORMs, so that other
//! services can embed them unchanged. Time and randomness are always arguments.
//!
//! What lives here:
//! - validated value types with fallible constructors ([`user::Email`], [`user::Password`],
//!   [`post::Title`], [`post::Content`], [`paging::Page`]) — parse, don't validate;
//! - the vote rules ([`vote`]);
//! - the refresh-session state machine: rotation, reuse detection, grace window, revocation
//!   ([`session`]);
//! - the events each change emits, with their topics and payloads ([`event`]);
//! - rate-limit windows, counter keys and verdicts ([`rate_limit`]);
//! - the outbox delivery rules: retry schedule with jitter, dead letter, lease expiry
//!   ([`outbox`]);
//! - OAuth providers and the identities they vouch for ([`oauth`]);
//! - one-time mailed tokens for email verification and password reset ([`email_token`]);
//! - the timestamp precision every stored instant has ([`Timestamp`]).
//!
//! With the `serde` feature the value types and event payloads implement `Serialize`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod email_token;
pub mod event;
pub mod oauth;
pub mod outbox;
pub mod paging;
pub mod post;
pub mod rate_limit;
pub mod session;
mod timestamp;
pub mod user;
pub mod vote;
// @new-resource: domain-modules

pub use timestamp::Timestamp;
