//! The one shape of a keel migration: plain statements per backend (readable in review, the
//! same text `psql` or `sqlite3` would run), run in order on the migration's connection inside
//! the migration's transaction. Each migration module declares a [`SqlMigration`] value;
//! nothing else implements sea-orm's migration traits.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// A migration: its name in the history table and its statements for each backend.
///
/// It runs in one transaction: DDL is transactional on both backends, so a failed migration
/// leaves nothing behind.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SqlMigration {
    /// The name recorded in `seaql_migrations` (the module's name).
    pub(crate) name: &'static str,
    /// What PostgreSQL runs.
    pub(crate) postgres: Sql,
    /// What SQLite runs.
    pub(crate) sqlite: Sql,
}

/// The statements of one backend, each way.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sql {
    /// Applying the migration, in order.
    pub(crate) up: &'static [&'static str],
    /// Reverting it, in order.
    pub(crate) down: &'static [&'static str],
}

impl Sql {
    /// Nothing to run: for a feature the backend has no counterpart of (SQLite has no
    /// `LISTEN`/`NOTIFY`, for instance).
    pub(crate) const NONE: Self = Self { up: &[], down: &[] };
}

impl SqlMigration {
    fn sql(&self, manager: &SchemaManager<'_>) -> Result<Sql, DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => Ok(self.postgres),
            DbBackend::Sqlite => Ok(self.sqlite),
            other => Err(DbErr::Migration(format!(
                "keel supports PostgreSQL and SQLite, not {other:?}"
            ))),
        }
    }
}

/// Runs `statements` in order.
async fn execute(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    let connection = manager.get_connection();
    for statement in statements {
        connection.execute_unprepared(statement).await?;
    }
    Ok(())
}

impl MigrationName for SqlMigration {
    fn name(&self) -> &str {
        self.name
    }
}

// `async_trait` needs the trait's exact (elided) signature.
#[expect(
    elided_lifetimes_in_paths,
    reason = "the trait declares `&SchemaManager` with an elided lifetime"
)]
#[async_trait::async_trait]
impl MigrationTrait for SqlMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute(manager, self.sql(manager)?.up).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute(manager, self.sql(manager)?.down).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
