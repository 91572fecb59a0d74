//! OAuth flows kept server-side, and the issuer of every linked identity.
//!
//! `oauth_flows` holds a flow between `start` and its callback when Redis is not configured:
//! keyed by `BASE64URL(SHA256(state))` (the state itself is never stored), deleted by the
//! callback that takes it (`DELETE … RETURNING`, so a state is used at most once) and purged
//! once expired. A flow that links an identity references its user and goes with it.
//!
//! `oauth_accounts.provider_issuer` completes the identity key (issuer, subject), docs/contract.md:
//! the generic OpenID provider (and Microsoft's multi-tenant endpoint) can name different
//! issuers under one provider name. Rows from before this migration have an empty issuer.

use crate::sql::{Sql, SqlMigration};

const POSTGRES_UP: &[&str] = &[
    r"CREATE TABLE oauth_flows (
        state_key            VARCHAR(64) NOT NULL,
        provider             VARCHAR(64) NOT NULL,
        pkce_verifier        VARCHAR(128) NOT NULL,
        nonce                VARCHAR(128) NOT NULL,
        link_user_id         BIGINT NULL,
        redirect_to_frontend BOOLEAN NOT NULL,
        binding_digest       VARCHAR(64) NOT NULL,
        expires_at           TIMESTAMPTZ NOT NULL,
        created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
        CONSTRAINT oauth_flows_pkey PRIMARY KEY (state_key),
        CONSTRAINT oauth_flows_link_user_id_fkey FOREIGN KEY (link_user_id)
            REFERENCES users (id) ON DELETE CASCADE
    )",
    r"CREATE INDEX oauth_flows_expires_at_idx ON oauth_flows (expires_at)",
    r"ALTER TABLE oauth_accounts ADD COLUMN provider_issuer TEXT NOT NULL DEFAULT ''",
];

const POSTGRES_DOWN: &[&str] = &[
    "ALTER TABLE oauth_accounts DROP COLUMN IF EXISTS provider_issuer",
    "DROP TABLE IF EXISTS oauth_flows",
];

const SQLITE_UP: &[&str] = &[
    r"CREATE TABLE oauth_flows (
        state_key            TEXT NOT NULL PRIMARY KEY,
        provider             TEXT NOT NULL,
        pkce_verifier        TEXT NOT NULL,
        nonce                TEXT NOT NULL,
        link_user_id         INTEGER NULL,
        redirect_to_frontend INTEGER NOT NULL,
        binding_digest       TEXT NOT NULL,
        expires_at           TEXT NOT NULL,
        created_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
        CONSTRAINT oauth_flows_link_user_id_fkey FOREIGN KEY (link_user_id)
            REFERENCES users (id) ON DELETE CASCADE
    )",
    r"CREATE INDEX oauth_flows_expires_at_idx ON oauth_flows (expires_at)",
    r"ALTER TABLE oauth_accounts ADD COLUMN provider_issuer TEXT NOT NULL DEFAULT ''",
];

const SQLITE_DOWN: &[&str] = &[
    "ALTER TABLE oauth_accounts DROP COLUMN provider_issuer",
    "DROP TABLE IF EXISTS oauth_flows",
];

/// Creates `oauth_flows` and adds `oauth_accounts.provider_issuer`.
pub(crate) const MIGRATION: SqlMigration = SqlMigration {
    name: "m20261203_000004_oauth_flows",
    postgres: Sql {
        up: POSTGRES_UP,
        down: POSTGRES_DOWN,
    },
    sqlite: Sql {
        up: SQLITE_UP,
        down: SQLITE_DOWN,
    },
};
