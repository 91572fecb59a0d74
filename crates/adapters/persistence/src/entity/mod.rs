//! SeaORM entities: one module per table of the migrations that this crate reads or
//! writes, written by hand to match `keel-migrations` column for column.
//!
//! Entities are the *read* shape of a row. Writes that carry instants go through `sea-query`
//! statements with backend-specific values (see `instant`), because SQLite stores instants as
//! fixed-width text that SeaORM's own `OffsetDateTime` binding would not produce.
//! Other crates reach the data through the ports, never through these types; they are public
//! for this crate's integration tests and for operational tooling.

pub mod email_token;
pub mod oauth_account;
pub mod oauth_flow;
pub mod outbox_event;
pub mod post;
pub mod refresh_token;
pub mod session_family;
pub mod user;
pub mod vote;
// @new-resource: entity-modules
