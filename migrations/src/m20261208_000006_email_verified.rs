//! `users.email_verified`: whether the account's address is proven to belong to its owner.
//!
//! An OAuth identity joins an existing account by email only when both the provider verified
//! the email and this flag is set (docs/contract.md, "Accounts and OAuth identities"). Rows
//! from before this migration start unverified: nothing proved their addresses.

use crate::sql::{Sql, SqlMigration};

const POSTGRES_UP: &[&str] =
    &["ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE"];

const POSTGRES_DOWN: &[&str] = &["ALTER TABLE users DROP COLUMN IF EXISTS email_verified"];

const SQLITE_UP: &[&str] =
    &["ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0"];

const SQLITE_DOWN: &[&str] = &["ALTER TABLE users DROP COLUMN email_verified"];

/// Adds `users.email_verified`.
pub(crate) const MIGRATION: SqlMigration = SqlMigration {
    name: "m20261208_000006_email_verified",
    postgres: Sql {
        up: POSTGRES_UP,
        down: POSTGRES_DOWN,
    },
    sqlite: Sql {
        up: SQLITE_UP,
        down: SQLITE_DOWN,
    },
};
