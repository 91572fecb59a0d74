//! # keel-migrations
//!
//! keel's one migration history, applied unchanged to PostgreSQL and SQLite. This crate owns
//! the database schema: every table, constraint and index the adapters rely on is created
//! here, and nowhere else.
//!
//! Each migration is a `sql::SqlMigration` value: exact, backend-specific statements for
//! PostgreSQL and for SQLite rather than a schema builder, so the types, defaults and
//! constraint names are precisely the ones reviewed here; one implementation of sea-orm's
//! migration traits runs them, in one transaction per migration.
//!
//! Storage conventions every writer must keep (the SQLite ones matter because SQLite has no
//! timestamp or UUID type):
//! - instants are UTC with microsecond precision; PostgreSQL stores them as `timestamptz`,
//!   SQLite as fixed-width RFC 3339 text `YYYY-MM-DDTHH:MM:SS.ffffffZ`, so that text order is
//!   time order (indexes and `ORDER BY` work unchanged);
//! - UUIDs are `uuid` on PostgreSQL and 16-byte `BLOB`s on SQLite (the driver's native binding);
//! - JSON is `jsonb` on PostgreSQL and checked text on SQLite;
//! - tables live in the connection's default schema (no schema prefix).

use sea_orm_migration::{MigrationName, MigrationTrait, async_trait};
pub use sea_orm_migration::{MigrationStatus, MigratorTrait};

mod m20261128_000001_initial;
mod m20261201_000002_outbox_notify;
mod m20261202_000003_posts_feed_covering;
mod m20261203_000004_oauth_flows;
mod m20261207_000005_outbox_notify_after_commit;
mod m20261208_000006_email_verified;
mod m20261208_000007_email_tokens;
mod m20261209_000008_session_current_expiry;
mod sql;
// @new-resource: migration-modules

pub use m20261201_000002_outbox_notify::CHANNEL as OUTBOX_NOTIFY_CHANNEL;

/// keel's migrations, oldest first.
#[derive(Debug, Clone, Copy, Default)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_initial::MIGRATION),
            Box::new(m20261201_000002_outbox_notify::MIGRATION),
            Box::new(m20261202_000003_posts_feed_covering::MIGRATION),
            Box::new(m20261203_000004_oauth_flows::MIGRATION),
            Box::new(m20261207_000005_outbox_notify_after_commit::MIGRATION),
            Box::new(m20261208_000006_email_verified::MIGRATION),
            Box::new(m20261208_000007_email_tokens::MIGRATION),
            Box::new(m20261209_000008_session_current_expiry::MIGRATION),
            // @new-resource: migration-list
        ]
    }
}

/// The names of all migrations, oldest first (used e.g. to fingerprint a migrated template
/// database).
#[must_use]
pub fn migration_names() -> Vec<String> {
    Migrator::migrations()
        .iter()
        .map(|migration| MigrationName::name(migration.as_ref()).to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_in_application_order() {
        let names = migration_names();
        assert_eq!(
            names,
            [
                "m20261128_000001_initial",
                "m20261201_000002_outbox_notify",
                "m20261202_000003_posts_feed_covering",
                "m20261203_000004_oauth_flows",
                "m20261207_000005_outbox_notify_after_commit",
                "m20261208_000006_email_verified",
                "m20261208_000007_email_tokens",
                "m20261209_000008_session_current_expiry",
                // @new-resource: migration-names
            ]
        );
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(sorted, names);
    }
}
