//! Running a migration's SQL. Every keel migration is a list of plain statements per backend
//! (readable in review, the same text `psql` or `sqlite3` would run); these run them on the
//! migration's connection, inside the migration's transaction.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// Runs `statements` in order.
pub(crate) async fn execute(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    let connection = manager.get_connection();
    for statement in statements {
        connection.execute_unprepared(statement).await?;
    }
    Ok(())
}

/// Runs `postgres` on PostgreSQL and `sqlite` on any other backend (SQLite).
pub(crate) async fn per_backend(
    manager: &SchemaManager<'_>,
    postgres: &[&str],
    sqlite: &[&str],
) -> Result<(), DbErr> {
    let statements = match manager.get_database_backend() {
        DbBackend::Postgres => postgres,
        _ => sqlite,
    };
    execute(manager, statements).await
}

/// Runs `statements` on PostgreSQL only (features SQLite has no counterpart of).
pub(crate) async fn postgres_only(
    manager: &SchemaManager<'_>,
    statements: &[&str],
) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    execute(manager, statements).await
}
