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

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// Replaces `posts_feed_idx` with the covering `posts_feed_visible_idx`.
pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000003_posts_feed_covering"
    }
}

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

// `async_trait` needs the trait's exact (elided) signature.
#[expect(
    elided_lifetimes_in_paths,
    reason = "the trait declares `&SchemaManager` with an elided lifetime"
)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Sqlite => crate::sql::execute(manager, SQLITE_UP).await,
            _ => crate::sql::execute(manager, POSTGRES_UP).await,
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::sql::execute(manager, DOWN).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
