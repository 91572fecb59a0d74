//! # keel-persistence
//!
//! keel's storage adapter: SeaORM repositories implementing the storage ports of
//! [`keel_ports`] — [`SeaUsers`], [`SeaPosts`], [`SeaVotes`], [`SeaSessions`] — on PostgreSQL
//! and SQLite with the same code, the outbox's delivery side ([`SeaOutbox`], woken by
//! [`OutboxListener`] on PostgreSQL) and its wake-ups ([`PgNotifyWaker`], [`outbox_waker`]),
//! plus opening the pool ([`connect`], [`ping`]) and running the migrations of
//! `keel-migrations` ([`migrate_up`] and friends).
//!
//! Guarantees every repository keeps:
//! - each state change and its domain events (as `outbox_events` rows) commit in one
//!   transaction, or neither does; after such a commit (never inside the transaction) the
//!   repository wakes the outbox's workers through its [`keel_ports::OutboxWaker`];
//! - races end as [`keel_ports::StoreError::Conflict`] (a unique key or an optimistic version
//!   decided them), references to vanished rows as [`keel_ports::StoreError::Missing`], and an
//!   unreachable database as [`keel_ports::StoreError::Unavailable`] — never as a panic;
//! - a pooled connection the database dropped (a restart) fails no operation that is safe to
//!   run twice: its pool's idle connections are evicted and the operation runs once more on a
//!   new connection (module `lost_connection`); a `COMMIT` is never run twice;
//! - reads of the feed never aggregate the votes table (`posts.votes_count` is maintained by
//!   the vote transactions).
//!
//! Repositories are cheap to clone: they hold a [`sea_orm::DatabaseConnection`] (a pool).

mod batch;
mod connection;
mod creations;
mod email_tokens;
pub mod entity;
mod error;
mod instant;
mod lost_connection;
mod migrate;
mod oauth;
mod outbox;
mod outbox_store;
mod posts;
mod sessions;
#[cfg(test)]
mod test_sql;
mod transaction;
mod users;
mod votes;
mod waker;
// @new-resource: persistence-modules

pub use connection::{
    PoolStats, connect, connect_per_worker, default_pool_size, ping, pool_stats, pools_stats,
    split_pool,
};
pub use email_tokens::SeaEmailTokens;
pub use migrate::{migrate_down, migrate_fresh, migrate_status, migrate_up};
pub use oauth::{SeaOAuthAccounts, SeaOAuthFlows};
pub use outbox_store::{ListenError, OutboxListener, SeaOutbox, Wake};
pub use posts::SeaPosts;
pub use sessions::SeaSessions;
pub use users::SeaUsers;
pub use votes::SeaVotes;
pub use waker::{DEFAULT_WAKE_INTERVAL, NoWakeUps, PgNotifyWaker, outbox_waker};
// @new-resource: persistence-exports
