//! Per-test databases: every test gets a fresh, fully migrated database of its own, so tests
//! never see each other's rows and can run in parallel (nextest runs each test in its own
//! process).
//!
//! - SQLite, always: a new database file in a new temporary directory, migrated on creation;
//!   the directory is removed when the [`TestDb`] is dropped.
//! - PostgreSQL, from [`TEST_DATABASE_URL`] (e.g.
//!   `postgres://postgres@127.0.0.1:5432/postgres`; the role needs `CREATEDB`): a new database
//!   cloned with `CREATE DATABASE … TEMPLATE` from a template that is migrated once and reused
//!   across tests and runs. The template is named after a hash of the migration names
//!   (`keel_tpl_<hash>`), so adding a migration yields a new template; migrations are immutable
//!   once merged — after editing one in place during development, drop the `keel_tpl_*`
//!   databases. Its creation is serialised across processes with `pg_advisory_lock`. Each test
//!   database (`keel_test_<unix seconds>_<random>`) is dropped when its [`TestDb`] is dropped;
//!   test databases left behind by crashed runs are dropped (best effort) once they are an
//!   hour old.
//!
//! A PostgreSQL test fails when `TEST_DATABASE_URL` is unset or the server cannot be used: it
//! never passes without having run. Such tests live in modules named `postgres`
//! ([`crate::services`]), which `scripts/test` leaves out, counted as skipped, when PostgreSQL
//! is not configured.
//!
//! This module depends on `keel-migrations` and SeaORM only — not on `keel-persistence` —
//! so the persistence adapter's own tests can use it without a dependency cycle.

use anyhow::{Context, bail};
use keel_migrations::{Migrator, MigratorTrait, migration_names};
use sea_orm::sqlx::sqlite::SqliteJournalMode;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement,
};
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use uuid::Uuid;

pub use crate::services::TEST_DATABASE_URL;

/// Prefix of every per-test PostgreSQL database.
const TEST_PREFIX: &str = "keel_test_";
/// Per-test PostgreSQL databases older than this are leftovers of crashed runs.
const LEFTOVER_AGE: Duration = Duration::from_secs(3600);
/// Key of the advisory lock that serialises template creation ("keel" in ASCII).
const TEMPLATE_LOCK: i64 = 0x6b65_656c;

/// A fresh, migrated database owned by one test.
pub struct TestDb {
    url: String,
    connection: DatabaseConnection,
    cleanup: Cleanup,
}

enum Cleanup {
    /// Remove this directory.
    Directory(PathBuf),
    /// Drop this database through the admin URL.
    Database { admin_url: String, name: String },
}

impl TestDb {
    /// A new SQLite database file in a new temporary directory, migrated.
    ///
    /// # Panics
    /// When the directory cannot be created or the migrations fail.
    pub async fn sqlite() -> TestDb {
        Self::try_sqlite()
            .await
            .unwrap_or_else(|err| panic!("cannot create a SQLite test database: {err:#}"))
    }

    /// A new PostgreSQL database cloned from the migrated template.
    ///
    /// # Panics
    /// When [`TEST_DATABASE_URL`] is unset, or set but the server cannot be used.
    pub async fn postgres() -> TestDb {
        let base = crate::services::postgres_url();
        Self::try_postgres(&base).await.unwrap_or_else(|err| {
            panic!("{TEST_DATABASE_URL} is set but no PostgreSQL test database could be created: {err:#}")
        })
    }

    /// The database URL, for starting a server or opening another pool on it.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A small pool on the database (e.g. for assertions on raw rows).
    #[must_use]
    pub fn connection(&self) -> &DatabaseConnection {
        &self.connection
    }

    /// Which backend this is.
    #[must_use]
    pub fn backend(&self) -> DbBackend {
        self.connection.get_database_backend()
    }

    /// `"sqlite"` or `"postgres"`, for assertion messages.
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self.backend() {
            DbBackend::Sqlite => "sqlite",
            DbBackend::Postgres => "postgres",
            _ => "other",
        }
    }

    /// Simulates a PostgreSQL restart for this database only: terminates every server process
    /// connected to it (`pg_terminate_backend`, as a shutdown does) and waits until they are
    /// gone, so every pooled connection on it is dead; the server itself keeps running for the
    /// other tests. This database's own [`TestDb::connection`] is among them (its next use
    /// fails). Returns how many were terminated. On SQLite, does nothing and returns 0.
    ///
    /// # Panics
    /// When the server cannot be reached or the processes do not exit within 10 s.
    pub async fn terminate_connections(&self) -> usize {
        let Cleanup::Database { admin_url, name } = &self.cleanup else {
            return 0;
        };
        let admin = connect_postgres(admin_url, 1).await.unwrap_or_else(|err| {
            panic!("cannot reach PostgreSQL to terminate connections: {err:#}")
        });
        let pids: Vec<i32> = admin
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                // The targets first (MATERIALIZED: the filter cannot be reordered after the
                // termination), then each terminated.
                "WITH targets AS MATERIALIZED (SELECT pid FROM pg_stat_activity \
                 WHERE datname = $1 AND pid <> pg_backend_pid()) \
                 SELECT pid FROM targets WHERE pg_terminate_backend(pid)",
                [name.as_str().into()],
            ))
            .await
            .unwrap_or_else(|err| panic!("terminating the connections to {name}: {err}"))
            .iter()
            .filter_map(|row| row.try_get::<i32>("", "pid").ok())
            .collect();
        let terminated = pids.len();
        // Waits for the terminated processes only: a client that reconnects at once (the api's
        // outbox waker does) opens a new one, which is not a survivor.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let left = admin
                .query_one_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT COUNT(*) AS left FROM pg_stat_activity WHERE pid = ANY($1)",
                    [pids.clone().into()],
                ))
                .await
                .ok()
                .flatten()
                .and_then(|row| row.try_get::<i64>("", "left").ok());
            if left == Some(0) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "connections to {name} still open 10 s after termination: {left:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = admin.close().await;
        terminated
    }

    async fn try_sqlite() -> anyhow::Result<TestDb> {
        let dir = std::env::temp_dir().join(format!("keel-test-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join("keel.db");
        let path = path
            .to_str()
            .context("the temporary directory's path is not UTF-8")?;
        let url = format!("sqlite://{path}?mode=rwc");
        // From here on, the directory is removed even if migrating fails.
        let cleanup = Cleanup::Directory(dir);
        let mut options = ConnectOptions::new(url.clone());
        options
            .max_connections(1)
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|sqlite| {
                sqlite
                    .foreign_keys(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(10))
            });
        let connection = match Database::connect(options).await {
            Ok(connection) => connection,
            Err(err) => {
                cleanup.run();
                return Err(err).context("opening the SQLite file");
            }
        };
        let db = TestDb {
            url,
            connection,
            cleanup,
        };
        Migrator::up(&db.connection, None)
            .await
            .context("migrating the SQLite database")?;
        Ok(db)
    }

    async fn try_postgres(base: &str) -> anyhow::Result<TestDb> {
        let template = template_name();
        let admin = connect_postgres(base, 1).await?;
        lock(&admin, "SELECT pg_advisory_lock($1)").await?;
        let prepared = async {
            drop_leftovers(&admin).await;
            if !database_exists(&admin, &template).await? {
                build_template(&admin, base, &template).await?;
            }
            anyhow::Ok(())
        }
        .await;
        lock(&admin, "SELECT pg_advisory_unlock($1)").await?;
        prepared?;

        let name = test_database_name();
        execute(
            &admin,
            &format!(r#"CREATE DATABASE "{name}" TEMPLATE "{template}""#),
        )
        .await
        .with_context(|| format!("cloning {template} into {name}"))?;
        admin
            .close()
            .await
            .context("closing the admin connection")?;
        let url = with_database(base, &name);
        let cleanup = Cleanup::Database {
            admin_url: base.to_owned(),
            name,
        };
        let connection = match connect_postgres(&url, 5).await {
            Ok(connection) => connection,
            Err(err) => {
                cleanup.run();
                return Err(err);
            }
        };
        Ok(TestDb {
            url,
            connection,
            cleanup,
        })
    }
}

impl fmt::Debug for TestDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestDb").field("url", &self.url).finish()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        self.cleanup.run();
    }
}

impl Cleanup {
    /// Best effort: a failure leaves a leftover, which later runs remove.
    fn run(&self) {
        match self {
            Cleanup::Directory(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Database { admin_url, name } => {
                let admin_url = admin_url.clone();
                let name = name.clone();
                // Drop runs inside the test's runtime, which cannot be blocked on: use a
                // runtime of our own on a thread of our own.
                let dropper = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .ok()?;
                    runtime.block_on(async {
                        let admin = connect_postgres(&admin_url, 1).await.ok()?;
                        let dropped = drop_database(&admin, &name).await;
                        let _ = admin.close().await;
                        dropped.ok()
                    })
                });
                let _ = dropper.join();
            }
        }
    }
}

async fn connect_postgres(url: &str, max_connections: u32) -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    let connection = Database::connect(options)
        .await
        .with_context(|| format!("connecting to {}", redact(url)))?;
    if connection.get_database_backend() != DbBackend::Postgres {
        bail!("{TEST_DATABASE_URL} must be a postgres:// URL");
    }
    Ok(connection)
}

async fn lock(admin: &DatabaseConnection, sql: &str) -> anyhow::Result<()> {
    admin
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            [TEMPLATE_LOCK.into()],
        ))
        .await
        .with_context(|| format!("running {sql}"))?;
    Ok(())
}

async fn execute(admin: &DatabaseConnection, sql: &str) -> anyhow::Result<()> {
    admin.execute_unprepared(sql).await?;
    Ok(())
}

async fn database_exists(admin: &DatabaseConnection, name: &str) -> anyhow::Result<bool> {
    let row = admin
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT 1 AS found FROM pg_database WHERE datname = $1",
            [name.into()],
        ))
        .await
        .context("looking up the template database")?;
    Ok(row.is_some())
}

/// Migrates a new database under a temporary name and renames it only once complete, so a
/// crash mid-way never leaves a half-migrated template behind.
async fn build_template(
    admin: &DatabaseConnection,
    base: &str,
    template: &str,
) -> anyhow::Result<()> {
    let building = format!("{template}_building");
    drop_database(admin, &building).await?;
    execute(admin, &format!(r#"CREATE DATABASE "{building}""#))
        .await
        .with_context(|| format!("creating {building}"))?;
    let connection = connect_postgres(&with_database(base, &building), 1).await?;
    let migrated = Migrator::up(&connection, None).await;
    connection
        .close()
        .await
        .context("closing the template connection")?;
    migrated.context("migrating the template database")?;
    execute(
        admin,
        &format!(r#"ALTER DATABASE "{building}" RENAME TO "{template}""#),
    )
    .await
    .with_context(|| format!("renaming {building} to {template}"))
}

async fn drop_database(admin: &DatabaseConnection, name: &str) -> anyhow::Result<()> {
    // FORCE (PostgreSQL 13+) ends sessions still connected, e.g. a server a test started.
    execute(
        admin,
        &format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#),
    )
    .await
    .with_context(|| format!("dropping {name}"))
}

/// Drops per-test databases older than [`LEFTOVER_AGE`]; errors are ignored.
async fn drop_leftovers(admin: &DatabaseConnection) {
    let Ok(rows) = admin
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(r"SELECT datname FROM pg_database WHERE datname LIKE '{TEST_PREFIX}%'"),
        ))
        .await
    else {
        return;
    };
    let now = unix_seconds();
    for row in rows {
        let Ok(name) = row.try_get::<String>("", "datname") else {
            continue;
        };
        let created = name
            .strip_prefix(TEST_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|seconds| seconds.parse::<u64>().ok());
        if created.is_some_and(|created| now.saturating_sub(created) > LEFTOVER_AGE.as_secs()) {
            let _ = drop_database(admin, &name).await;
        }
    }
}

fn template_name() -> String {
    format!("keel_tpl_{:016x}", fnv1a(&migration_names().join("\n")))
}

fn test_database_name() -> String {
    let random = Uuid::new_v4().simple().to_string();
    format!("{TEST_PREFIX}{}_{}", unix_seconds(), &random[..12])
}

/// FNV-1a: a hash that stays the same across Rust versions and processes.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// `url` with its database name replaced by `name` (query parameters kept).
fn with_database(url: &str, name: &str) -> String {
    let (main, query) = match url.split_once('?') {
        Some((main, query)) => (main, Some(query)),
        None => (url, None),
    };
    let authority_start = main.find("://").map_or(0, |at| at + 3);
    let without_path = match main[authority_start..].find('/') {
        Some(slash) => &main[..authority_start + slash],
        None => main,
    };
    match query {
        Some(query) => format!("{without_path}/{name}?{query}"),
        None => format!("{without_path}/{name}"),
    }
}

/// The URL without its password, for error messages.
fn redact(url: &str) -> String {
    let authority_start = url.find("://").map_or(0, |at| at + 3);
    let Some(at) = url[authority_start..]
        .find('@')
        .map(|at| authority_start + at)
    else {
        return url.to_owned();
    };
    match url[authority_start..at].find(':') {
        Some(colon) => format!("{}:***{}", &url[..authority_start + colon], &url[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_name_is_replaced_and_query_kept() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }

    #[test]
    fn template_name_is_stable_and_a_valid_identifier() {
        assert_eq!(fnv1a(""), 0xcbf2_9ce4_8422_2325);
        let name = template_name();
        assert_eq!(name, template_name());
        assert!(
            name.len() < 64,
            "PostgreSQL identifiers have at most 63 bytes"
        );
        assert!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        );
        assert!(test_database_name().starts_with(TEST_PREFIX));
    }

    #[tokio::test]
    async fn sqlite_databases_are_migrated_and_removed_on_drop() {
        let db = TestDb::sqlite().await;
        let Cleanup::Directory(dir) = &db.cleanup else {
            panic!("a SQLite test database lives in a directory");
        };
        let dir = dir.clone();
        assert!(dir.exists());
        let tables = db
            .connection()
            .query_all_raw(Statement::from_string(
                DbBackend::Sqlite,
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'users'",
            ))
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(tables.len(), 1);
        assert_eq!(db.label(), "sqlite");
        drop(db);
        assert!(!dir.exists());
    }
}
