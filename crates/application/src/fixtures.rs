//! Shared values for the use-case tests.

use keel_domain::Timestamp;
use keel_domain::post::{Content, Post, PostDraft, PostId, Title};
use keel_domain::session::{FamilyId, SessionFamily, SessionPolicy, TokenId};
use keel_domain::user::{Email, Password, PasswordHash, User, UserId};
use keel_ports::{Author, Clock, MockClock, MockRandom, Random, StoreError};
use std::sync::Arc;
use std::sync::Mutex;
use uuid::Uuid;

pub(crate) fn now() -> Timestamp {
    Timestamp::from_unix_seconds(1_800_000_000).expect("valid")
}

pub(crate) fn fixed_clock() -> Arc<dyn Clock> {
    let mut clock = MockClock::new();
    clock.expect_now().returning(now);
    Arc::new(clock)
}

pub(crate) fn email(raw: &str) -> Email {
    Email::parse(raw).expect("valid email")
}

pub(crate) fn password(raw: &str) -> Password {
    Password::parse(raw).expect("valid password")
}

pub(crate) fn hash() -> PasswordHash {
    PasswordHash::new("$argon2id$test".to_owned())
}

pub(crate) fn user(id: i64) -> User {
    User {
        id: UserId::new(id),
        email: email(&format!("u{id}@example.com")),
        password_hash: Some(hash()),
        email_verified: true,
        created_at: now(),
    }
}

pub(crate) fn author(id: i64) -> Author {
    let u = user(id);
    Author {
        id: u.id,
        email: u.email,
        email_verified: u.email_verified,
        created_at: u.created_at,
    }
}

pub(crate) fn draft(title: &str) -> PostDraft {
    PostDraft {
        title: Title::parse(title).expect("valid"),
        content: Content::parse("body").expect("valid"),
        published: true,
    }
}

pub(crate) fn post(id: i64, owner: i64, published: bool) -> Post {
    Post {
        id: PostId::new(id),
        owner_id: UserId::new(owner),
        title: Title::parse("title").expect("valid"),
        content: Content::parse("body").expect("valid"),
        published,
        created_at: now(),
        updated_at: now(),
    }
}

pub(crate) fn policy() -> SessionPolicy {
    SessionPolicy {
        refresh_ttl: time::Duration::days(30),
        reuse_grace: time::Duration::seconds(10),
        max_age: time::Duration::days(90),
    }
}

pub(crate) fn token_id(n: u128) -> TokenId {
    TokenId::new(Uuid::from_u128(n))
}

pub(crate) fn family_id(n: u128) -> FamilyId {
    FamilyId::new(Uuid::from_u128(n))
}

pub(crate) fn family(user: i64, first: u128) -> SessionFamily {
    SessionFamily::start(
        family_id(1),
        UserId::new(user),
        token_id(first),
        Some("test"),
        now(),
        &policy(),
    )
}

pub(crate) fn unavailable() -> StoreError {
    StoreError::Unavailable("down".into())
}

/// A counter as randomness: every secret differs, and tests can predict none of them.
pub(crate) fn random() -> Arc<dyn Random> {
    let mut random = MockRandom::new();
    let counter = Mutex::new(0_u8);
    random.expect_fill().returning(move |dest| {
        let mut n = counter.lock().expect("lock");
        *n = n.wrapping_add(1);
        dest.fill(*n);
    });
    Arc::new(random)
}
