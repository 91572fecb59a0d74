//! Write transactions stop notifying (PostgreSQL only): drops the `outbox_events_notify`
//! trigger of `m20261201_000002_outbox_notify`.
//!
//! PostgreSQL takes one database-wide lock at the commit of every transaction that issued
//! `NOTIFY` and holds it through that commit's WAL flush, so with the trigger every write
//! (each records an outbox event) committed alone: no group commit. Measured with pgbench on
//! keel's create SQL, 32 clients: ~2,650–2,700 tps with the trigger, ~5,350–5,450 without.
//! The api now wakes the workers after the commit, on a connection of its own and coalesced
//! (`keel_persistence::PgNotifyWaker`), on the same channel; the workers' `LISTEN` is unchanged.
//!
//! Down re-creates the trigger as the earlier migration made it. SQLite: nothing to do.

use sea_orm_migration::prelude::*;

/// Drops the notification trigger.
pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000005_outbox_notify_after_commit"
    }
}

const POSTGRES_UP: &[&str] = &[
    "DROP TRIGGER IF EXISTS outbox_events_notify ON outbox_events",
    "DROP FUNCTION IF EXISTS outbox_events_notify()",
];

const POSTGRES_DOWN: &[&str] = &[
    r"CREATE OR REPLACE FUNCTION outbox_events_notify() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('outbox_events', '');
        RETURN NULL;
    END
    $$",
    r"CREATE TRIGGER outbox_events_notify
    AFTER INSERT ON outbox_events
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_events_notify()",
];

// `async_trait` needs the trait's exact (elided) signature.
#[expect(
    elided_lifetimes_in_paths,
    reason = "the trait declares `&SchemaManager` with an elided lifetime"
)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::sql::postgres_only(manager, POSTGRES_UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::sql::postgres_only(manager, POSTGRES_DOWN).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
