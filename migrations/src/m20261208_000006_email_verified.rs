//! `users.email_verified`: whether the account's address is proven to belong to its owner.
//!
//! An OAuth identity joins an existing account by email only when both the provider verified
//! the email and this flag is set (docs/contract.md, "Accounts and OAuth identities"). Rows
//! from before this migration start unverified: nothing proved their addresses.

use sea_orm_migration::prelude::*;

/// Adds `users.email_verified`.
pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261208_000006_email_verified"
    }
}

const POSTGRES_UP: &[&str] =
    &["ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE"];

const POSTGRES_DOWN: &[&str] = &["ALTER TABLE users DROP COLUMN IF EXISTS email_verified"];

const SQLITE_UP: &[&str] =
    &["ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0"];

const SQLITE_DOWN: &[&str] = &["ALTER TABLE users DROP COLUMN email_verified"];

// `async_trait` needs the trait's exact (elided) signature.
#[expect(
    elided_lifetimes_in_paths,
    reason = "the trait declares `&SchemaManager` with an elided lifetime"
)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::sql::per_backend(manager, POSTGRES_UP, SQLITE_UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::sql::per_backend(manager, POSTGRES_DOWN, SQLITE_DOWN).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
