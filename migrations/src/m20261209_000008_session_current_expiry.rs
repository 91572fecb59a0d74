//! `session_families.current_expires_at`: the expiry of the refresh token the family accepts
//! (its `current_jti`), kept on the family row.
//!
//! Every authenticated request checks that the access token's session is still live (not
//! revoked, its current refresh token not expired). With the expiry on the family row that check
//! is one primary-key lookup beside the user's, instead of a join into `refresh_tokens`
//! (docs/performance.md has the measurement). The row is written with its token, in the same
//! statements as `current_jti`, so the two never disagree. Existing rows take the expiry of
//! their current token.

use crate::sql::{Sql, SqlMigration};

const POSTGRES_UP: &[&str] = &[
    "ALTER TABLE session_families ADD COLUMN current_expires_at TIMESTAMPTZ NULL",
    "UPDATE session_families AS f SET current_expires_at = t.expires_at \
     FROM refresh_tokens AS t WHERE t.jti = f.current_jti",
    // A family without its token row cannot be refreshed: it is expired.
    "UPDATE session_families SET current_expires_at = 'epoch' WHERE current_expires_at IS NULL",
    "ALTER TABLE session_families ALTER COLUMN current_expires_at SET NOT NULL",
];

const POSTGRES_DOWN: &[&str] =
    &["ALTER TABLE session_families DROP COLUMN IF EXISTS current_expires_at"];

// SQLite adds a NOT NULL column only with a default: the epoch, an expired instant, in the
// fixed-width text every instant is stored as.
const SQLITE_UP: &[&str] = &[
    "ALTER TABLE session_families ADD COLUMN current_expires_at TEXT NOT NULL \
     DEFAULT '1970-01-01T00:00:00.000000Z'",
    "UPDATE session_families SET current_expires_at = COALESCE( \
     (SELECT t.expires_at FROM refresh_tokens AS t WHERE t.jti = session_families.current_jti), \
     current_expires_at)",
];

const SQLITE_DOWN: &[&str] = &["ALTER TABLE session_families DROP COLUMN current_expires_at"];

/// Adds and fills `session_families.current_expires_at`.
pub(crate) const MIGRATION: SqlMigration = SqlMigration {
    name: "m20261209_000008_session_current_expiry",
    postgres: Sql {
        up: POSTGRES_UP,
        down: POSTGRES_DOWN,
    },
    sqlite: Sql {
        up: SQLITE_UP,
        down: SQLITE_DOWN,
    },
};
