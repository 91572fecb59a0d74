//! A database restart costs no operation: after every pooled connection is terminated
//! (`pg_terminate_backend`, as a PostgreSQL shutdown does), the next reads, writes and pings
//! all succeed, one after another and concurrently. On SQLite there is nothing to terminate and
//! the same operations simply succeed.

use crate::harness::{Store, at, draft};
use keel_domain::paging::{Page, Search};
use keel_domain::post::NewPost;
use keel_domain::user::User;
use keel_persistence::{ping, pool_stats};
use keel_ports::{PostQuery, Posts, Users};
use sea_orm::DbBackend;
use std::time::Duration;

on_every_backend!(
    after_a_restart_every_read_write_and_ping_succeeds_on_the_first_try,
    after_a_restart_concurrent_operations_all_succeed,
);

/// Opens `n` connections at once and returns them to the pool, so `n` are idle.
async fn warm(s: &Store, n: usize) {
    if s.conn.get_database_backend() != DbBackend::Postgres {
        return;
    }
    let pool = s.conn.get_postgres_connection_pool();
    let mut held = Vec::new();
    for _ in 0..n {
        held.push(pool.acquire().await.expect("acquire"));
    }
    drop(held);
    // Released connections go back to the pool in a task of their own.
    for _ in 0..100 {
        if pool_stats(&s.conn).idle >= n as u64 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "[{}] {n} connections not idle: {:?}",
        s.label,
        pool_stats(&s.conn)
    );
}

/// Warms the pool with `n` connections and kills them all.
async fn restart(s: &Store, n: usize) {
    warm(s, n).await;
    let terminated = s._db.terminate_connections().await;
    if s.conn.get_database_backend() == DbBackend::Postgres {
        assert!(
            terminated >= n,
            "[{}] {terminated} terminated, {n} pooled",
            s.label
        );
    }
}

fn feed(viewer: &User) -> PostQuery {
    PostQuery {
        viewer: viewer.id,
        search: Search::parse("").expect("valid search"),
        page: Page::new(100, 0).expect("valid page"),
    }
}

async fn write(s: &Store, owner: &User, title: &str) {
    s.posts
        .create(&NewPost {
            owner_id: owner.id,
            draft: draft(title, true),
            created_at: at(1),
        })
        .await
        .unwrap_or_else(|err| panic!("[{}] write {title} after the restart: {err}", s.label));
}

async fn read(s: &Store, owner: &User, what: &str) -> usize {
    s.users
        .find(owner.id)
        .await
        .unwrap_or_else(|err| panic!("[{}] {what}: find user: {err}", s.label))
        .expect("user exists");
    s.posts
        .list(&feed(owner))
        .await
        .unwrap_or_else(|err| panic!("[{}] {what}: list posts: {err}", s.label))
        .len()
}

async fn after_a_restart_every_read_write_and_ping_succeeds_on_the_first_try(s: Store) {
    let owner = s.user("owner@example.com").await;
    s.post(&owner, "before", true, at(0)).await;

    // A write first: its dead connection fails the BEGIN, which is retried.
    restart(&s, 6).await;
    for i in 0..10 {
        write(&s, &owner, &format!("write {i}")).await;
    }
    assert_eq!(read(&s, &owner, "after writes").await, 11, "[{}]", s.label);

    // A read first.
    restart(&s, 6).await;
    for i in 0..10 {
        assert_eq!(read(&s, &owner, &format!("read {i}")).await, 11);
    }

    // The readiness ping first.
    restart(&s, 6).await;
    for _ in 0..10 {
        assert!(ping(&s.conn).await, "[{}] ping after the restart", s.label);
    }
    write(&s, &owner, "after pings").await;
}

async fn after_a_restart_concurrent_operations_all_succeed(s: Store) {
    let owner = s.user("owner@example.com").await;
    restart(&s, 8).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..16 {
        let (posts, users, owner, label) =
            (s.posts.clone(), s.users.clone(), owner.clone(), s.label);
        tasks.spawn(async move {
            if i % 2 == 0 {
                posts
                    .create(&NewPost {
                        owner_id: owner.id,
                        draft: draft(&format!("concurrent {i}"), true),
                        created_at: at(2),
                    })
                    .await
                    .map(|_| ())
                    .map_err(|err| format!("[{label}] write {i}: {err}"))
            } else {
                users
                    .find(owner.id)
                    .await
                    .map(|_| ())
                    .map_err(|err| format!("[{label}] read {i}: {err}"))
            }
        });
    }
    let failures: Vec<String> = tasks
        .join_all()
        .await
        .into_iter()
        .filter_map(Result::err)
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(
        read(&s, &owner, "after the burst").await,
        8,
        "[{}]",
        s.label
    );
}
