//! `SeaUsers`: registration, look-ups, the uniqueness contract and the `user.created` event.

use crate::harness::{Store, at, email};
use keel_domain::user::{NewUser, UserId};
use keel_ports::{StoreError, Users};
use serde_json::json;

on_every_backend!(
    a_created_user_is_found_by_id_and_email_with_its_event_in_the_outbox,
    a_duplicate_email_is_a_conflict_and_records_no_event,
    oauth_accounts_have_no_password_hash_and_unknown_users_are_none,
);

async fn a_created_user_is_found_by_id_and_email_with_its_event_in_the_outbox(s: Store) {
    let user = s.user("Alice@Example.com").await;
    assert_eq!(user.email.as_str(), "alice@example.com", "[{}]", s.label);
    assert_eq!(user.created_at, at(0), "[{}] microseconds survive", s.label);

    let found = s.users.find(user.id).await.expect("find");
    assert_eq!(found.as_ref(), Some(&user), "[{}]", s.label);
    let by_email = s
        .users
        .find_by_email(&email("alice@example.com"))
        .await
        .expect("find");
    assert_eq!(by_email, Some(user.clone()), "[{}]", s.label);

    let outbox = s.outbox().await;
    assert_eq!(outbox.len(), 1, "[{}]", s.label);
    let event = &outbox[0];
    assert_eq!(event.topic, "user.created", "[{}]", s.label);
    assert_eq!(
        event.payload,
        json!({"user_id": user.id.get(), "email": "alice@example.com"}),
        "[{}]",
        s.label
    );
    assert_eq!(event.status, "pending", "[{}]", s.label);
    assert_eq!(event.attempts, 0, "[{}]", s.label);
    assert_eq!(event.event_key.get_version_num(), 4, "[{}]", s.label);
    assert_eq!(event.created_at, event.available_at, "[{}]", s.label);
    assert_eq!(event.processed_at, None, "[{}]", s.label);
}

async fn a_duplicate_email_is_a_conflict_and_records_no_event(s: Store) {
    s.user("bob@example.com").await;
    let again = s
        .users
        .create(&NewUser {
            email: email("bob@example.com"),
            password_hash: None,
            email_verified: false,
            verification: None,
            created_at: at(1),
        })
        .await;
    assert!(
        matches!(again, Err(StoreError::Conflict)),
        "[{}] {again:?}",
        s.label
    );
    assert_eq!(
        s.outbox().await.len(),
        1,
        "[{}] only the first registration",
        s.label
    );
}

async fn oauth_accounts_have_no_password_hash_and_unknown_users_are_none(s: Store) {
    let created = s
        .users
        .create(&NewUser {
            email: email("carol@example.com"),
            password_hash: None,
            email_verified: false,
            verification: None,
            created_at: at(0),
        })
        .await
        .expect("create");
    let found = s
        .users
        .find(created.id)
        .await
        .expect("find")
        .expect("exists");
    assert_eq!(found.password_hash, None, "[{}]", s.label);
    assert_eq!(
        s.users.find(UserId::new(999_999)).await.expect("find"),
        None
    );
    assert_eq!(
        s.users
            .find_by_email(&email("nobody@example.com"))
            .await
            .expect("find"),
        None,
        "[{}]",
        s.label
    );
}
