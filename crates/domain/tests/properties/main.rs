//! Property tests of keel-domain's invariants, one module per rule owner.
//!
//! One test binary (not one per file) keeps link time down. Every property states its invariant
//! in its doc comment and has a concrete example test beside it, so a failure reads as a broken
//! sentence and the example shows the rule in the smallest case.

mod email_token;
mod oauth;
mod outbox;
mod rate_limit;
mod session;
mod values;
mod vote;
// @new-resource: domain-properties
