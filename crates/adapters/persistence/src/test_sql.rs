//! SQL helpers of this crate's PostgreSQL unit tests: a number read back, a user inserted.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

/// The first column of the one row `sql` returns, as a number.
pub(crate) async fn number(db: &DatabaseConnection, sql: &str) -> i64 {
    db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .expect(sql)
        .expect("a row")
        .try_get_by_index::<i64>(0)
        .expect("a number")
}

/// Inserts a verified user without a password under `email`; returns its id.
pub(crate) async fn user(db: &DatabaseConnection, email: &str) -> i64 {
    db.query_one_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO users (email, password_hash, email_verified, created_at) \
             VALUES ($1, NULL, true, now()) RETURNING id",
        [email.into()],
    ))
    .await
    .expect("insert a user")
    .expect("a row")
    .try_get_by_index::<i64>(0)
    .expect("id")
}
