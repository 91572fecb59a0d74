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

use crate::sql::{Sql, SqlMigration};

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

/// Drops the notification trigger.
pub(crate) const MIGRATION: SqlMigration = SqlMigration {
    name: "m20261207_000005_outbox_notify_after_commit",
    postgres: Sql {
        up: POSTGRES_UP,
        down: POSTGRES_DOWN,
    },
    sqlite: Sql::NONE,
};
