//! The migration wrappers and the connection settings.

use crate::harness::{Store, at, email};
use keel_domain::user::NewUser;
use keel_persistence::{
    SeaUsers, connect, migrate_down, migrate_fresh, migrate_status, migrate_up, ping,
};
use keel_ports::{StoreError, Users};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

on_every_backend!(
    migrations_go_up_down_and_up_again,
    ping_answers_and_a_closed_pool_is_unavailable,
);

async fn user_table_exists(conn: &sea_orm::DatabaseConnection) -> bool {
    let sql = match conn.get_database_backend() {
        DbBackend::Sqlite => "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'users'",
        _ => {
            "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'users'"
        }
    };
    conn.query_one_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await
        .expect("catalog query")
        .is_some()
}

async fn migrations_go_up_down_and_up_again(s: Store) {
    let with_status = |applied: bool| -> Vec<(String, bool)> {
        keel_migrations::migration_names()
            .into_iter()
            .map(|name| (name, applied))
            .collect()
    };
    let applied = with_status(true);
    assert_eq!(
        migrate_status(&s.conn).await.expect("status"),
        applied,
        "[{}]",
        s.label
    );

    migrate_down(&s.conn, None).await.expect("down");
    assert!(
        !user_table_exists(&s.conn).await,
        "[{}] tables dropped",
        s.label
    );
    assert_eq!(
        migrate_status(&s.conn).await.expect("status"),
        with_status(false),
        "[{}]",
        s.label
    );

    migrate_up(&s.conn).await.expect("up again");
    assert!(user_table_exists(&s.conn).await, "[{}]", s.label);
    assert_eq!(
        migrate_status(&s.conn).await.expect("status"),
        applied,
        "[{}]",
        s.label
    );
    s.user("after@example.com").await;

    migrate_fresh(&s.conn).await.expect("fresh");
    assert_eq!(
        migrate_status(&s.conn).await.expect("status"),
        applied,
        "[{}]",
        s.label
    );
    assert!(
        s.users
            .find_by_email(&email("after@example.com"))
            .await
            .expect("find")
            .is_none()
    );
}

#[tokio::test]
async fn an_in_memory_sqlite_database_keeps_its_data_across_calls() {
    let conn = connect("sqlite::memory:", Some(8)).await.expect("connect");
    migrate_up(&conn).await.expect("migrate");
    let users = SeaUsers::new(
        conn.clone(),
        std::sync::Arc::new(keel_persistence::NoWakeUps),
    );
    let created = users
        .create(&NewUser {
            email: email("memory@example.com"),
            password_hash: None,
            email_verified: false,
            verification: None,
            created_at: at(0),
        })
        .await
        .expect("create");
    assert_eq!(users.find(created.id).await.expect("find"), Some(created));
    assert!(ping(&conn).await);
}

async fn ping_answers_and_a_closed_pool_is_unavailable(s: Store) {
    assert!(ping(&s.conn).await, "[{}]", s.label);
    s.conn.close_by_ref().await.expect("close");
    assert!(!ping(&s.conn).await, "[{}]", s.label);
    let outcome = s.users.find_by_email(&email("x@example.com")).await;
    assert!(
        matches!(outcome, Err(StoreError::Unavailable(_))),
        "[{}] {outcome:?}",
        s.label
    );
}
