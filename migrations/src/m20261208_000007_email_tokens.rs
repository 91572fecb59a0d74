//! `email_tokens`: the one-time tokens mailed for email verification and password reset.
//!
//! Only `BASE64URL(SHA256(token))` is stored (`token_hash`, unique); the raw token exists only
//! in the mail. A token is spent by setting `used_at` (`UPDATE … WHERE used_at IS NULL`, so it
//! is spent at most once) and goes with its user.

use crate::sql::{Sql, SqlMigration};

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

/// Creates `email_tokens`.
pub(crate) const MIGRATION: SqlMigration = SqlMigration {
    name: "m20261208_000007_email_tokens",
    postgres: Sql {
        up: POSTGRES_UP,
        down: POSTGRES_DOWN,
    },
    sqlite: Sql {
        up: SQLITE_UP,
        down: SQLITE_DOWN,
    },
};
