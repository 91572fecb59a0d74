//! `email_tokens`: the one-time tokens mailed for email verification and password reset.
//!
//! Only `BASE64URL(SHA256(token))` is stored (`token_hash`, unique); the raw token exists only
//! in the mail. A token is spent by setting `used_at` (`UPDATE … WHERE used_at IS NULL`, so it
//! is spent at most once) and goes with its user.

use sea_orm_migration::prelude::*;

/// Creates `email_tokens`.
pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261208_000007_email_tokens"
    }
}

const POSTGRES_UP: &[&str] = &[
    r"CREATE TABLE email_tokens (
        token_hash VARCHAR(64) NOT NULL,
        user_id    BIGINT NOT NULL,
        purpose    VARCHAR(32) NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL,
        used_at    TIMESTAMPTZ NULL,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        CONSTRAINT email_tokens_pkey PRIMARY KEY (token_hash),
        CONSTRAINT email_tokens_user_id_fkey FOREIGN KEY (user_id)
            REFERENCES users (id) ON DELETE CASCADE,
        CONSTRAINT email_tokens_purpose_check
            CHECK (purpose IN ('verify_email', 'reset_password'))
    )",
    r"CREATE INDEX email_tokens_user_id_purpose_idx ON email_tokens (user_id, purpose)",
];

const POSTGRES_DOWN: &[&str] = &["DROP TABLE IF EXISTS email_tokens"];

const SQLITE_UP: &[&str] = &[
    r"CREATE TABLE email_tokens (
        token_hash TEXT NOT NULL PRIMARY KEY,
        user_id    INTEGER NOT NULL,
        purpose    TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        used_at    TEXT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
        CONSTRAINT email_tokens_user_id_fkey FOREIGN KEY (user_id)
            REFERENCES users (id) ON DELETE CASCADE,
        CONSTRAINT email_tokens_purpose_check
            CHECK (purpose IN ('verify_email', 'reset_password'))
    )",
    r"CREATE INDEX email_tokens_user_id_purpose_idx ON email_tokens (user_id, purpose)",
];

const SQLITE_DOWN: &[&str] = &["DROP TABLE IF EXISTS email_tokens"];

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
