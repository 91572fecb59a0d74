//! Applying and inspecting keel's migration history ([`keel_migrations::Migrator`]) on an open
//! pool, for the `api migrate …` subcommands and for start-up.

use keel_migrations::{MigrationStatus, Migrator, MigratorTrait};
use sea_orm::{DatabaseConnection, DbErr};

/// Applies every pending migration.
///
/// # Errors
/// [`DbErr`] when a migration fails (it is then rolled back as a whole).
pub async fn migrate_up(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Rolls back the newest `steps` applied migrations; `None` rolls back all of them.
///
/// # Errors
/// [`DbErr`] when a rollback fails.
pub async fn migrate_down(db: &DatabaseConnection, steps: Option<u32>) -> Result<(), DbErr> {
    Migrator::down(db, steps).await
}

/// Every known migration, oldest first, with whether it is applied.
///
/// # Errors
/// [`DbErr`] when the history cannot be read, or names a migration this build does not know.
pub async fn migrate_status(db: &DatabaseConnection) -> Result<Vec<(String, bool)>, DbErr> {
    Ok(Migrator::get_migration_with_status(db)
        .await?
        .iter()
        .map(|migration| {
            (
                migration.name().to_owned(),
                migration.status() == MigrationStatus::Applied,
            )
        })
        .collect())
}

/// Drops every table of the database and applies all migrations again. Destroys all data.
///
/// # Errors
/// [`DbErr`] when dropping or migrating fails.
pub async fn migrate_fresh(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::fresh(db).await
}
