//! Wakes outbox workers when events are recorded (PostgreSQL only).
//!
//! An `AFTER INSERT … FOR EACH STATEMENT` trigger on `outbox_events` sends `NOTIFY
//! outbox_events`. PostgreSQL delivers notifications when the inserting transaction commits
//! (never for a rolled-back one) and folds identical notifications of one transaction into one,
//! so each committed change costs at most one wake-up however many events it recorded. The
//! payload is empty: a notification only says "look now"; workers claim from the table, so a
//! lost notification costs latency (the polling fallback), never an event.
//!
//! SQLite has no notifications: workers there poll. This migration does nothing on SQLite.

use crate::sql::{Sql, SqlMigration};

/// The channel workers `LISTEN` on.
pub const CHANNEL: &str = "outbox_events";

const POSTGRES_UP: &[&str] = &[
    // OR REPLACE: `migrate fresh` drops tables (and so the trigger), not functions.
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

const POSTGRES_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS outbox_events_notify ON outbox_events",
    "DROP FUNCTION IF EXISTS outbox_events_notify()",
];

/// Creates the notification trigger.
pub(crate) const MIGRATION: SqlMigration = SqlMigration {
    name: "m20261201_000002_outbox_notify",
    postgres: Sql {
        up: POSTGRES_UP,
        down: POSTGRES_DOWN,
    },
    sqlite: Sql::NONE,
};
