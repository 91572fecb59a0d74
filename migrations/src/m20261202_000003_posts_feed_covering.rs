//! The feed index covers the visibility filter, so a page of the post list is found in the
//! index alone.
//!
//! `GET /posts?limit&skip` walks the feed newest first, skips `skip` visible posts and keeps
//! `limit`. With `posts_feed_idx (created_at DESC, id DESC)` every walked entry cost a heap
//! fetch, just to read `published` and `owner_id` for the filter (`published OR owner_id =
//! viewer`) — and the join with the owner ran for every skipped row too. The replacement
//! `posts_feed_visible_idx` carries both filter columns, so the list (`keel-persistence`,
//! `SeaPosts::list`) picks the page's ids with an index-only scan and fetches only those rows
//! and their owners: on the benchmark data, page 20 reads 64 buffers instead of 868
//! (`docs/performance.md`). The old index is dropped: the new one serves every query it served.
//!
//! PostgreSQL stores the filter columns as `INCLUDE` payload (not part of the key); SQLite has
//! no `INCLUDE`, so they are trailing key columns there, which covers the same scan.

use crate::sql::{Sql, SqlMigration};

const POSTGRES_UP: &[&str] = &[
    r"CREATE INDEX posts_feed_visible_idx ON posts (created_at DESC, id DESC)
        INCLUDE (published, owner_id)",
    r"DROP INDEX IF EXISTS posts_feed_idx",
];

const SQLITE_UP: &[&str] = &[
    r"CREATE INDEX posts_feed_visible_idx ON posts (created_at DESC, id DESC, published, owner_id)",
    r"DROP INDEX IF EXISTS posts_feed_idx",
];

const DOWN: &[&str] = &[
    r"CREATE INDEX IF NOT EXISTS posts_feed_idx ON posts (created_at DESC, id DESC)",
    r"DROP INDEX IF EXISTS posts_feed_visible_idx",
];

/// Replaces `posts_feed_idx` with the covering `posts_feed_visible_idx`.
pub(crate) const MIGRATION: SqlMigration = SqlMigration {
    name: "m20261202_000003_posts_feed_covering",
    postgres: Sql {
        up: POSTGRES_UP,
        down: DOWN,
    },
    sqlite: Sql {
        up: SQLITE_UP,
        down: DOWN,
    },
};
